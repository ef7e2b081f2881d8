/**
 * deploy/kubernetes/: every manifest is valid against the Kubernetes JSON schemas
 * (kubernetes-models, the schemas of the Kubernetes OpenAPI spec), the relay config each one
 * carries is a valid kong-log-relay config, and the settings the README promises hold: probes,
 * resources, a restricted security context, a grace period above shutdown_timeout, and Kong
 * writing or posting where the relay reads.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import picomatch from 'picomatch';
import { parse, parseAllDocuments } from 'yaml';
import { formatDiagnostic } from '../src/config/diagnostics.ts';
import { loadConfigText } from '../src/config/load.ts';
import type { ResolvedConfig } from '../src/config/resolve.ts';

const DIR = path.join(import.meta.dirname, '..', '..', 'deploy', 'kubernetes');

interface Manifest {
  readonly file: string;
  readonly kind: string;
  readonly apiVersion: string;
  readonly metadata: { readonly name: string };
  readonly [key: string]: unknown;
}

const MODELS: Record<string, (m: Manifest) => { validate(): void }> = {
  'v1/ConfigMap': (m) => new ConfigMap(m as never),
  'v1/Secret': (m) => new Secret(m as never),
  'apps/v1/Deployment': (m) => new Deployment(m as never),
};

function manifests(): Manifest[] {
  const out: Manifest[] = [];
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.yaml'))) {
    for (const doc of parseAllDocuments(readFileSync(path.join(DIR, file), 'utf8'))) {
      assert.deepEqual(doc.errors, [], `${file}: YAML errors`);
      const value = doc.toJS() as Omit<Manifest, 'file'> | null;
      if (value !== null) out.push({ ...value, file } as Manifest);
    }
  }
  return out;
}

interface Container {
  name: string;
  image: string;
  args?: string[];
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  env?: { name: string; value?: string }[];
}
interface PodSpec {
  terminationGracePeriodSeconds?: number;
  securityContext?: Record<string, unknown>;
  containers: Container[];
  volumes: { name: string; configMap?: { name: string }; emptyDir?: Record<string, unknown> }[];
}

const podOf = (d: Manifest): PodSpec => (d.spec as { template: { spec: PodSpec } }).template.spec;

/** The relay config a Deployment mounts, resolved with placeholder secrets. */
function relayConfigOf(all: Manifest[], pod: PodSpec): ResolvedConfig {
  const relay = pod.containers.find((c) => c.name === 'kong-log-relay') as Container;
  const mount = relay.volumeMounts?.find((m) => m.mountPath === '/etc/kong-log-relay');
  assert.ok(mount, 'the relay mounts its config');
  const volume = pod.volumes.find((v) => v.name === mount.name);
  const map = all.find((m) => m.kind === 'ConfigMap' && m.metadata.name === volume?.configMap?.name);
  assert.ok(map, `ConfigMap ${volume?.configMap?.name} exists`);
  const text = (map.data as Record<string, string>)['config.yaml'];
  const env = { RELAY_TOKEN: 't', ADMIN_TOKEN: 'a-token-of-32-characters-or-so!!', PAYMENTS_TOKEN: 'p' };
  const result = loadConfigText(text, `${map.file}#config.yaml`, env);
  assert.ok(result.config !== null, result.diagnostics.map(formatDiagnostic).join('\n'));
  return result.config;
}

/** Kong's declarative config a Deployment mounts. */
function kongConfigOf(all: Manifest[], pod: PodSpec): { plugins: { name: string; config: Record<string, unknown> }[] } {
  const kong = pod.containers.find((c) => c.name === 'kong') as Container;
  const file = kong.env?.find((e) => e.name === 'KONG_DECLARATIVE_CONFIG')?.value as string;
  const mount = kong.volumeMounts?.find((m) => file.startsWith(`${m.mountPath}/`));
  const volume = pod.volumes.find((v) => v.name === mount?.name);
  const map = all.find((m) => m.kind === 'ConfigMap' && m.metadata.name === volume?.configMap?.name);
  assert.ok(map, `Kong's declarative config ${file} is mounted from a ConfigMap`);
  return parse((map.data as Record<string, string>)[path.basename(file)]);
}

describe('Kubernetes sidecar manifests (deploy/kubernetes)', () => {
  const all = manifests();
  const deployments = all.filter((m) => m.kind === 'Deployment');

  it('every manifest is valid against the Kubernetes schemas', () => {
    assert.ok(all.length >= 5);
    for (const m of all) {
      const model = MODELS[`${m.apiVersion}/${m.kind}`];
      assert.ok(model, `${m.file}: no schema known for ${m.apiVersion} ${m.kind}`);
      const { file: _, ...manifest } = m;
      assert.doesNotThrow(() => model(manifest as Manifest).validate(), `${m.file}: ${m.kind} ${m.metadata.name}`);
    }
  });

  it('a broken manifest is caught (the check can fail)', () => {
    const [d] = deployments;
    const broken = structuredClone(d) as Manifest;
    (podOf(broken).containers[1] as unknown as { ports: unknown }).ports = [{ containerPort: 'admin' }];
    const { file: _, ...manifest } = broken;
    assert.throws(() => new Deployment(manifest as never).validate(), /containerPort/);
  });

  it('both sidecar patterns are there, and each relay config is valid', () => {
    assert.deepEqual(deployments.map((d) => d.file).sort(), ['file-log-sidecar.yaml', 'http-log-sidecar.yaml']);
    for (const d of deployments) relayConfigOf(all, podOf(d));
  });

  for (const d of deployments) {
    describe(d.file, () => {
      const pod = podOf(d);
      const relay = pod.containers.find((c) => c.name === 'kong-log-relay') as Container;
      const config = relayConfigOf(all, pod);

      it('probes: liveness on /healthz, readiness on /readyz of the admin listener', () => {
        assert.equal(relay.livenessProbe?.httpGet?.path, '/healthz');
        assert.equal(relay.readinessProbe?.httpGet?.path, '/readyz');
        assert.ok(config.admin !== null, 'the admin listener is on');
        assert.match(config.admin.listen, /^0\.0\.0\.0:9877$/, 'the kubelet reaches it on the Pod IP');
      });

      it('requests and limits for CPU and memory', () => {
        for (const kind of ['requests', 'limits'] as const)
          for (const r of ['cpu', 'memory']) assert.ok(relay.resources?.[kind]?.[r], `${kind}.${r}`);
        assert.equal(relay.resources?.limits?.memory, '256Mi', 'sized from the overload benchmark (README)');
      });

      it('a restricted security context: non-root, read-only root, no escalation, no capabilities', () => {
        for (const c of pod.containers.filter((c) => c.name !== 'kong')) {
          const s = c.securityContext ?? {};
          assert.equal(s.runAsNonRoot, true, c.name);
          assert.equal(s.readOnlyRootFilesystem, true, c.name);
          assert.equal(s.allowPrivilegeEscalation, false, c.name);
          assert.deepEqual((s.capabilities as { drop: string[] }).drop, ['ALL'], c.name);
        }
        assert.equal(pod.securityContext?.runAsNonRoot, true);
        assert.deepEqual(pod.securityContext?.seccompProfile, { type: 'RuntimeDefault' });
      });

      it('terminationGracePeriodSeconds is above shutdown_timeout, so the relay can drain', () => {
        assert.ok((pod.terminationGracePeriodSeconds ?? 30) * 1000 > config.shutdownTimeoutMs);
      });

      it('state_dir is a writable volume', () => {
        const mount = relay.volumeMounts?.find((m) => m.mountPath === config.stateDir);
        assert.ok(mount && mount.readOnly !== true, `${config.stateDir} is mounted writable`);
      });

      it('Kong sends its logs where the relay reads them', () => {
        const kong = kongConfigOf(all, pod);
        const [source] = config.sources;
        if (source.type === 'file') {
          const plugin = kong.plugins.find((p) => p.name === 'file-log');
          assert.ok(plugin, 'file-log is on');
          assert.equal(plugin.config.reopen, true, 'reopen: true, so rename rotation works');
          const file = plugin.config.path as string;
          assert.ok(
            source.paths.some((p) => picomatch.isMatch(file, p) && picomatch.isMatch(`${file}.1`, p)),
            `${file} and its rotated name match ${source.paths.join(', ')}`,
          );
          const mount = relay.volumeMounts?.find((m) => file.startsWith(`${m.mountPath}/`));
          assert.equal(mount?.readOnly, true, 'the relay reads the log volume read-only');
        } else if (source.type === 'http') {
          const plugin = kong.plugins.find((p) => p.name === 'http-log');
          assert.ok(plugin, 'http-log is on');
          assert.match(source.listen, /^127\.0\.0\.1:/, 'only the Pod reaches it');
          const secret = all.find((m) => m.kind === 'Secret') as Manifest;
          const endpoint = new URL((secret.stringData as Record<string, string>).KONG_RELAY_ENDPOINT);
          assert.equal(`${endpoint.hostname}:${endpoint.port}`, source.listen);
          assert.equal(endpoint.pathname, source.path);
        } else assert.fail(`unexpected source ${JSON.stringify(source)}`);
      });
    });
  }
});
