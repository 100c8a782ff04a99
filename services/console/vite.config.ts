import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// Served by the gateway under /console (docs/console.md); hashed file names let it cache assets for a year.
export default defineConfig({
  base: "/console/",
  root: "app",
  publicDir: "../public",
  plugins: [react()],
  build: {
    outDir: "../dist",
    emptyOutDir: true,
    target: "es2022",
    // No inline scripts or styles: the gateway's CSP allows only files of its own origin.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  server: { proxy: { "/api": process.env.GALAXY_URL ?? "http://127.0.0.1:8080" } },
});
