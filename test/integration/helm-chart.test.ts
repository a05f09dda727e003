// The Helm chart (deploy/helm/gatehouse): the real Helm (test/helpers/helm.ts) lints it and renders it with its
// default values and with every option on; each rendered document is parsed and checked for the Kubernetes shapes the
// chart promises (probes, Secret references, the non-root security context, the PodDisruptionBudget, the migrations
// hook). Helm checks values against values.schema.json itself; ajv checks values.yaml against it too, and every value
// in values.yaml has a comment above it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { isMap, isScalar, parseAllDocuments, parseDocument, stringify, type Pair, type YAMLMap } from 'yaml';
import { helm, helmBinary } from '../helpers/helm.js';

const CHART = join(process.cwd(), 'deploy', 'helm', 'gatehouse');
const ISSUER = 'https://auth.example.com';

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; annotations?: Record<string, string> }; spec: any; [k: string]: any };

let bin: string;
let work: string;

beforeAll(async () => {
  bin = await helmBinary();
  work = mkdtempSync(join(tmpdir(), 'gatehouse-helm-'));
}, 180_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Writes a values file and renders the chart with it; every document parsed, none empty. */
async function render(values: Record<string, unknown>, name = 'values'): Promise<Manifest[]> {
  const file = join(work, `${name}.yaml`);
  writeFileSync(file, stringify(values));
  const { stdout } = await helm(bin, ['template', 'gh', CHART, '--namespace', 'auth', '-f', file]);
  return parseAllDocuments(stdout)
    .map((d) => {
      expect(d.errors).toEqual([]);
      return d.toJS() as Manifest | null;
    })
    .filter((d): d is Manifest => d !== null);
}

const ALL_OPTIONS = {
  issuer: ISSUER,
  replicaCount: 3,
  image: { repository: 'registry.example.com/gatehouse', tag: '1.2.3', pullPolicy: 'Always' },
  imagePullSecrets: [{ name: 'regcred' }],
  secretKey: { secretName: 'gh-keys', key: 'secret-key' },
  databaseUrl: { secretName: 'gh-db', key: 'url' },
  bootstrapAdmin: { email: 'ops@example.com', passwordSecret: { secretName: 'gh-admin', key: 'first-password' } },
  env: { UPSTREAM_PROVIDER: 'oidc', ADMIN_EMAILS: 'ops@example.com' },
  extraEnv: [{ name: 'UPSTREAM_CLIENT_SECRET', valueFrom: { secretKeyRef: { name: 'gh-upstream', key: 'client-secret' } } }],
  service: { type: 'ClusterIP', port: 8080, annotations: { 'example.com/team': 'identity' } },
  ingress: { enabled: true, className: 'nginx', annotations: { 'cert-manager.io/cluster-issuer': 'letsencrypt' }, tlsSecretName: 'auth-tls' },
  migrations: { enabled: true, backoffLimit: 0, activeDeadlineSeconds: 300 },
  serviceAccount: { create: true, name: 'gatehouse-sa', annotations: { 'example.com/role': 'db' } },
  podDisruptionBudget: { enabled: true, minAvailable: 2 },
  podAnnotations: { 'prometheus.io/scrape': 'true' },
  podLabels: { team: 'identity' },
  nodeSelector: { 'kubernetes.io/os': 'linux' },
  tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'auth', effect: 'NoSchedule' }],
  affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } },
};

const byKind = (docs: Manifest[], kind: string) => docs.filter((d) => d.kind === kind);
const one = (docs: Manifest[], kind: string) => {
  const found = byKind(docs, kind);
  expect(found).toHaveLength(1);
  return found[0]!;
};
const envOf = (container: any) => new Map<string, any>(container.env.map((e: any) => [e.name, e]));

/** The container checks every Gatehouse container must pass: Secrets by reference, non-root, nothing to escalate. */
function expectHardenedContainer(container: any, secretKey: { name: string; key: string }, databaseUrl: { name: string; key: string }) {
  const env = envOf(container);
  expect(env.get('ISSUER')).toEqual({ name: 'ISSUER', value: ISSUER });
  expect(env.get('SECRET_KEY')).toEqual({ name: 'SECRET_KEY', valueFrom: { secretKeyRef: secretKey } });
  expect(env.get('DATABASE_URL')).toEqual({ name: 'DATABASE_URL', valueFrom: { secretKeyRef: databaseUrl } });
  for (const e of container.env) expect(e.name === 'SECRET_KEY' || e.name === 'DATABASE_URL' ? e.value : undefined).toBeUndefined();
  expect(container.securityContext).toMatchObject({
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  });
  expect(container.securityContext.runAsUser).toBeGreaterThan(0);
  expect(container.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
}

describe('Helm chart deploy/helm/gatehouse', () => {
  it('passes helm lint --strict with the required value, and with every option on', async () => {
    await helm(bin, ['lint', '--strict', CHART, '--set', `issuer=${ISSUER}`]);
    const file = join(work, 'lint-all.yaml');
    writeFileSync(file, stringify(ALL_OPTIONS));
    await helm(bin, ['lint', '--strict', CHART, '-f', file]);
  });

  it('renders with the defaults: Deployment probes on the container port, Secret references, non-root, resources, Service, PDB, migrations hook', async () => {
    const docs = await render({ issuer: ISSUER }, 'defaults');
    expect(docs.map((d) => d.kind).sort()).toEqual(['Deployment', 'Job', 'PodDisruptionBudget', 'Service', 'ServiceAccount']);
    for (const d of docs) expect(d.metadata.name).toMatch(/^gh-gatehouse/);

    const deployment = one(docs, 'Deployment');
    expect(deployment.apiVersion).toBe('apps/v1');
    expect(deployment.spec.replicas).toBe(2);
    const pod = deployment.spec.template.spec;
    expect(deployment.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'gatehouse', 'app.kubernetes.io/instance': 'gh' });
    expect(deployment.spec.template.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.volumes).toContainEqual({ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } });
    // No Ingress of the chart's: no proxy whose X-Forwarded-For the server may believe.
    expect(envOf(pod.containers[0]).get('TRUST_PROXY')).toEqual({ name: 'TRUST_PROXY', value: '0' });
    const [container] = pod.containers;
    expect(pod.containers).toHaveLength(1);
    expect(container.args).toEqual(['node', 'bin/gatehouse.js', 'serve']);
    expect(container.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    expect(envOf(container).get('PORT')).toEqual({ name: 'PORT', value: '8080' });
    expect(envOf(container).get('NODE_ENV')).toEqual({ name: 'NODE_ENV', value: 'production' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expectHardenedContainer(container, { name: 'gatehouse', key: 'SECRET_KEY' }, { name: 'gatehouse', key: 'DATABASE_URL' });
    // docs/PERFORMANCE.md: ~110 MB idle, ~360 MB at the password-hashing peak.
    expect(container.resources).toEqual({ requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '512Mi' } });

    const service = one(docs, 'Service');
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    expect(service.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }]);

    const pdb = one(docs, 'PodDisruptionBudget');
    expect(pdb.apiVersion).toBe('policy/v1');
    expect(pdb.spec).toEqual({ minAvailable: 1, selector: { matchLabels: deployment.spec.selector.matchLabels } });

    expect(one(docs, 'ServiceAccount').automountServiceAccountToken).toBe(false);
    expect(pod.serviceAccountName).toBe(one(docs, 'ServiceAccount').metadata.name);

    const job = one(docs, 'Job');
    expect(job.metadata.annotations).toEqual({
      'helm.sh/hook': 'pre-install,pre-upgrade',
      'helm.sh/hook-weight': '0',
      'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded',
    });
    const jobPod = job.spec.template.spec;
    expect(jobPod.restartPolicy).toBe('Never');
    // The hook runs before the release's ServiceAccount exists: it must not name it.
    expect(jobPod.serviceAccountName).toBeUndefined();
    expect(jobPod.containers[0].args).toEqual(['node', 'bin/gatehouse.js', 'migrate']);
    expect(jobPod.containers[0].env).toEqual(container.env);
    expectHardenedContainer(jobPod.containers[0], { name: 'gatehouse', key: 'SECRET_KEY' }, { name: 'gatehouse', key: 'DATABASE_URL' });
    // Job pods must not match the Service's selector.
    expect(job.spec.template.metadata.labels['app.kubernetes.io/name']).not.toBe('gatehouse');
  });

  it('renders with every option on: Ingress with TLS on the issuer host, extra env, named Secrets, image, scheduling', async () => {
    const docs = await render(ALL_OPTIONS, 'all');
    expect(docs.map((d) => d.kind).sort()).toEqual(['Deployment', 'Ingress', 'Job', 'PodDisruptionBudget', 'Service', 'ServiceAccount']);
    const deployment = one(docs, 'Deployment');
    const pod = deployment.spec.template.spec;
    const [container] = pod.containers;
    expect(deployment.spec.replicas).toBe(3);
    expect(container.image).toBe('registry.example.com/gatehouse:1.2.3');
    expect(container.imagePullPolicy).toBe('Always');
    expect(pod.imagePullSecrets).toEqual([{ name: 'regcred' }]);
    expect(pod.serviceAccountName).toBe('gatehouse-sa');
    expect(pod.nodeSelector).toEqual(ALL_OPTIONS.nodeSelector);
    expect(pod.tolerations).toEqual(ALL_OPTIONS.tolerations);
    expect(pod.affinity).toEqual(ALL_OPTIONS.affinity);
    expect(deployment.spec.template.metadata.annotations).toEqual(ALL_OPTIONS.podAnnotations);
    expect(deployment.spec.template.metadata.labels).toMatchObject({ team: 'identity', 'app.kubernetes.io/name': 'gatehouse' });
    expectHardenedContainer(container, { name: 'gh-keys', key: 'secret-key' }, { name: 'gh-db', key: 'url' });
    const env = envOf(container);
    expect(env.get('UPSTREAM_PROVIDER')).toEqual({ name: 'UPSTREAM_PROVIDER', value: 'oidc' });
    expect(env.get('ADMIN_EMAILS')).toEqual({ name: 'ADMIN_EMAILS', value: 'ops@example.com' });
    expect(env.get('UPSTREAM_CLIENT_SECRET')).toEqual(ALL_OPTIONS.extraEnv[0]);
    // Behind the chart's Ingress, its controller is the one proxy.
    expect(env.get('TRUST_PROXY')).toEqual({ name: 'TRUST_PROXY', value: '1' });
    // The first administrator: the email in the environment, the password only as a file from its Secret.
    expect(env.get('BOOTSTRAP_ADMIN_EMAIL')).toEqual({ name: 'BOOTSTRAP_ADMIN_EMAIL', value: 'ops@example.com' });
    expect(env.get('BOOTSTRAP_ADMIN_PASSWORD_FILE')).toEqual({ name: 'BOOTSTRAP_ADMIN_PASSWORD_FILE', value: '/run/secrets/gatehouse-bootstrap/password' });
    expect(container.volumeMounts).toContainEqual({ name: 'bootstrap-admin', mountPath: '/run/secrets/gatehouse-bootstrap', readOnly: true });
    expect(pod.volumes).toContainEqual({ name: 'bootstrap-admin', secret: { secretName: 'gh-admin', defaultMode: 0o440, items: [{ key: 'first-password', path: 'password' }] } });

    const ingress = one(docs, 'Ingress');
    expect(ingress.apiVersion).toBe('networking.k8s.io/v1');
    expect(ingress.metadata.annotations).toEqual(ALL_OPTIONS.ingress.annotations);
    expect(ingress.spec.ingressClassName).toBe('nginx');
    expect(ingress.spec.tls).toEqual([{ hosts: ['auth.example.com'], secretName: 'auth-tls' }]);
    expect(ingress.spec.rules).toEqual([
      { host: 'auth.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'gh-gatehouse', port: { name: 'http' } } } }] } },
    ]);
    expect(one(docs, 'Service').metadata.annotations).toEqual(ALL_OPTIONS.service.annotations);
    expect(one(docs, 'PodDisruptionBudget').spec.minAvailable).toBe(2);
    expect(one(docs, 'Job').spec).toMatchObject({ backoffLimit: 0, activeDeadlineSeconds: 300 });
    // The Job migrates only: it neither gets the first administrator's variables nor would find its password file.
    const jobEnv = [...envOf(one(docs, 'Job').spec.template.spec.containers[0]).keys()];
    expect(jobEnv).toContain('DATABASE_URL');
    expect(jobEnv.filter((n) => n.startsWith('BOOTSTRAP_'))).toEqual([]);
    // An Ingress beside a LoadBalancer Service: clients may come in around the controller, so no hop is trusted.
    const around = await render({ ...ALL_OPTIONS, service: { type: 'LoadBalancer', port: 80, annotations: {} } }, 'around');
    expect(envOf(one(around, 'Deployment').spec.template.spec.containers[0]).get('TRUST_PROXY')).toEqual({ name: 'TRUST_PROXY', value: '0' });
    // An explicit TRUST_PROXY wins over the Ingress rule.
    const twoHops = await render({ ...ALL_OPTIONS, trustProxy: 2 }, 'two-hops');
    expect(envOf(one(twoHops, 'Deployment').spec.template.spec.containers[0]).get('TRUST_PROXY')).toEqual({ name: 'TRUST_PROXY', value: '2' });
  });

  it('leaves out the PDB with one replica, the Job when migrations are off, and names an existing ServiceAccount in the Job', async () => {
    const docs = await render({ issuer: ISSUER, replicaCount: 1, migrations: { enabled: false }, serviceAccount: { create: false, name: 'existing' } }, 'minimal');
    expect(docs.map((d) => d.kind).sort()).toEqual(['Deployment', 'Service']);
    expect(one(docs, 'Deployment').spec.template.spec.serviceAccountName).toBe('existing');
    // No bootstrap administrator asked for: neither its variables nor its Secret.
    const [container] = one(docs, 'Deployment').spec.template.spec.containers;
    expect([...envOf(container).keys()].filter((n) => n.startsWith('BOOTSTRAP_'))).toEqual([]);
    expect(one(docs, 'Deployment').spec.template.spec.volumes.map((v: { name: string }) => v.name)).toEqual(['tmp']);
    const withJob = await render({ issuer: ISSUER, serviceAccount: { create: false, name: 'existing' } }, 'existing-sa');
    expect(one(withJob, 'Job').spec.template.spec.serviceAccountName).toBe('existing');
  });

  it.each([
    ['no issuer', {}, /issuer/],
    ['a plain-http issuer', { issuer: 'http://auth.example.com' }, /issuer/],
    ['an issuer with a trailing slash', { issuer: 'https://auth.example.com/' }, /issuer/],
    ['a literal SECRET_KEY in env', { issuer: ISSUER, env: { SECRET_KEY: 'literal' } }, /SECRET_KEY/],
    ['a root user', { issuer: ISSUER, securityContext: { runAsNonRoot: false } }, /runAsNonRoot/],
    ['privilege escalation', { issuer: ISSUER, securityContext: { allowPrivilegeEscalation: true } }, /allowPrivilegeEscalation/],
    ['an empty Secret name', { issuer: ISSUER, databaseUrl: { secretName: '', key: 'DATABASE_URL' } }, /databaseUrl/],
    ['an unknown value (a typo)', { issuer: ISSUER, replicas: 3 }, /replicas/],
    ['a bootstrap administrator without the Secret of its password', { issuer: ISSUER, bootstrapAdmin: { email: 'ops@example.com', passwordSecret: { secretName: '', key: 'password' } } }, /bootstrapAdmin/],
    ['more proxy hops than the server accepts', { issuer: ISSUER, trustProxy: 11 }, /trustProxy/],
    ['a bootstrap administrator whose email is not one', { issuer: ISSUER, bootstrapAdmin: { email: 'ops', passwordSecret: { secretName: 'gh-admin', key: 'password' } } }, /bootstrapAdmin/],
  ])('Helm refuses %s against values.schema.json', async (_name, values, message) => {
    await expect(render(values, 'bad')).rejects.toThrow(message);
  });
});

describe('values.yaml', () => {
  const text = readFileSync(join(CHART, 'values.yaml'), 'utf8');

  it('validates against values.schema.json (ajv), which requires what the templates require', () => {
    const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as object;
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    const values = parseDocument(text).toJS() as Record<string, unknown>;
    // The shipped values leave the issuer empty on purpose (it has no sensible default): only that error.
    expect(validate(values)).toBe(false);
    expect(validate.errors!.every((e) => e.instancePath === '/issuer')).toBe(true);
    expect(validate({ ...values, issuer: ISSUER })).toBe(true);
    expect(validate.errors).toBeNull();
  });

  it('documents every value with a comment on the line just above it, at its own indentation', () => {
    const doc = parseDocument(text);
    expect(doc.errors).toEqual([]);
    const lines = text.split('\n');
    const lineOf = (offset: number) => text.slice(0, offset).split('\n').length - 1;
    const undocumented: string[] = [];
    let count = 0;
    const walk = (map: YAMLMap, path: string) => {
      for (const pair of map.items as Pair[]) {
        if (!isScalar(pair.key)) throw new Error(`a complex key under ${path}`);
        const line = lineOf(pair.key.range![0]);
        const indent = lines[line]!.length - lines[line]!.trimStart().length;
        const above = lines[line - 1] ?? '';
        if (!new RegExp(`^ {${indent}}#.*\\S`).test(above)) undocumented.push(`${path}${String(pair.key.value)}`);
        count++;
        if (isMap(pair.value)) walk(pair.value, `${path}${String(pair.key.value)}.`);
      }
    };
    walk(doc.contents as YAMLMap, '');
    expect(count).toBeGreaterThan(50);
    expect(undocumented).toEqual([]);
  });

  it("is linked from README's Kubernetes (Helm) section with the install commands", () => {
    const readme = readFileSync(join(process.cwd(), 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Kubernetes (Helm)'));
    expect(readme).toContain('### Kubernetes (Helm)');
    expect(section.slice(0, section.indexOf('\n## '))).toMatch(/helm install[\s\S]*deploy\/helm\/gatehouse[\s\S]*\]\(deploy\/helm\/gatehouse\/values\.yaml\)/);
  });
});
