import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { parseAllDocuments, parse } from "yaml";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Job } from "kubernetes-models/batch/v1/Job";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Service } from "kubernetes-models/v1/Service";

// infra/k8s validated against the Kubernetes API's own schemas (kubernetes-models generates its
// validators from the OpenAPI document of Kubernetes), then held to docker-compose.yml: the same
// image entry point, users and probes (docs/operations.md, "Kubernetes").

const DIR = new URL("../../infra/k8s/", import.meta.url);
const MODELS: Record<string, new (value: never) => { validate(): void }> = {
  "apps/v1 Deployment": Deployment,
  "batch/v1 Job": Job,
  "policy/v1 PodDisruptionBudget": PodDisruptionBudget,
  "v1 ConfigMap": ConfigMap,
  "v1 Service": Service,
};
const SERVICES = ["gateway", "identity", "agent-registry", "execution-worker", "audit"];

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec?: Record<string, unknown>;
}

const manifests: Manifest[] = readdirSync(DIR)
  .filter((file) => file.endsWith(".yaml") && file !== "nats-values.yaml")
  .flatMap((file) => parseAllDocuments(readFileSync(new URL(file, DIR), "utf8")).map((doc) => doc.toJS() as Manifest));

function validate(manifest: Manifest): void {
  const Model = MODELS[`${manifest.apiVersion} ${manifest.kind}`];
  if (!Model) throw new Error(`no schema for ${manifest.apiVersion} ${manifest.kind}`);
  new Model(manifest as never).validate();
}

function find(kind: string, name: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found;
}

interface Container {
  image: string;
  env: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
  ports?: Array<{ name: string; containerPort: number }>;
  readinessProbe?: { httpGet: { path: string; port: string } };
  livenessProbe?: { httpGet: { path: string; port: string } };
  resources?: { requests?: Record<string, string> };
}

function containerOf(manifest: Manifest): Container & { podSecurity: { runAsUser?: number; runAsNonRoot?: boolean } } {
  const pod = (manifest.spec as { template: { spec: { containers: Container[]; securityContext: { runAsUser?: number; runAsNonRoot?: boolean } } } }).template.spec;
  const container = pod.containers[0];
  if (!container) throw new Error(`${manifest.metadata.name} has no container`);
  return { ...container, podSecurity: pod.securityContext };
}

describe("Kubernetes manifests", () => {
  test("every document is valid against the Kubernetes schema of its kind", () => {
    expect(manifests.length).toBeGreaterThanOrEqual(SERVICES.length * 3 + 2);
    for (const manifest of manifests) expect(() => validate(manifest), `${manifest.kind} ${manifest.metadata.name}`).not.toThrow();
  });

  test("the schemas do refuse a wrong manifest (the validation is not vacuous)", () => {
    const broken = structuredClone(find("Deployment", "gateway"));
    const container = containerOf(broken);
    (broken.spec as { template: { spec: { containers: unknown[] } } }).template.spec.containers = [{ ...container, ports: [{ name: "ops", containerPort: "8090" }] }];
    expect(() => validate(broken)).toThrow(/containerPort must be integer/);
  });

  test("each service: a Deployment probed on its ops port, with requests, a PodDisruptionBudget, its own users and secrets by reference", () => {
    const images = new Set<string>();
    for (const service of SERVICES) {
      const container = containerOf(find("Deployment", service));
      images.add(container.image);
      const ops = container.ports?.find((p) => p.name === "ops");
      expect(ops, service).toBeDefined();
      expect(container.readinessProbe?.httpGet).toEqual({ path: "/health/ready", port: "ops" });
      expect(container.livenessProbe?.httpGet).toEqual({ path: "/health/live", port: "ops" });
      expect(container.resources?.requests?.cpu, service).toBeDefined();
      expect(container.resources?.requests?.memory, service).toBeDefined();
      const env = new Map(container.env.map((e) => [e.name, e]));
      expect(env.get("GALAXY_SERVICE")?.value).toBe(service);
      expect(env.get("NATS_USER")?.value).toBe(service);
      // The ops port variable the service reads is the port the probes use.
      const opsVariable = service === "gateway" ? "GATEWAY_OPS_PORT" : `${service.toUpperCase().replace("-", "_")}_PORT`;
      expect(env.get(opsVariable)?.value).toBe(String(ops?.containerPort));
      for (const secret of ["NATS_PASSWORD", `GALAXY_${service.toUpperCase().replace("-", "_")}_DB_PASSWORD`]) {
        expect(env.get(secret)?.value, `${service} ${secret} is a value`).toBeUndefined();
        expect(env.get(secret)?.valueFrom?.secretKeyRef?.key).toBe(service);
      }
      expect(container.podSecurity).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
      const pdb = find("PodDisruptionBudget", service).spec as { selector: { matchLabels: Record<string, string> } };
      expect(pdb.selector.matchLabels["app.kubernetes.io/name"]).toBe(service);
    }
    const setup = containerOf(find("Job", "galaxy-setup"));
    images.add(setup.image);
    expect(images.size).toBe(1);
  });

  test("docker-compose.yml runs the same programs as the same NATS users", () => {
    const compose = parse(readFileSync(new URL("../../docker-compose.yml", import.meta.url), "utf8")) as { services: Record<string, { environment?: Record<string, string> }> };
    for (const service of SERVICES) {
      const env = compose.services[service]?.environment ?? {};
      expect(env.GALAXY_SERVICE).toBe(service);
      expect(env.NATS_USER).toBe(service);
    }
  });

  test("the cluster's authorization is the production server's, word for word", () => {
    const single = readFileSync(new URL("../../infra/nats/nats-server.conf", import.meta.url), "utf8");
    const block = single.slice(single.indexOf("\nauthorization {") + 1).trimEnd();
    const cluster = readFileSync(new URL("../../infra/nats/cluster/authorization.conf", import.meta.url), "utf8");
    expect(cluster.slice(cluster.indexOf("authorization {")).trimEnd()).toBe(block);
  });
});
