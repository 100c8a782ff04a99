import { runCli } from "./program";

// `pnpm galaxy …` or the installed `galaxy`: the answer on stdout, errors on stderr.
process.exitCode = await runCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  env: process.env,
});
