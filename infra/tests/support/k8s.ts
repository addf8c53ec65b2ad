/**
 * The Kubernetes manifests of infra/k8s, read as the API server would get them, and checked against the
 * Kubernetes OpenAPI schemas in two ways: kubernetes-models' validators (types, required fields, enums) and a
 * TypeScript excess-property check against the same models' interfaces (unknown or misplaced fields, which the
 * API server drops silently and the validators let pass).
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { INFRA_DIR } from './processes.js';

export const K8S_DIR = `${INFRA_DIR}k8s`;

/** A manifest document with where it came from. */
export interface Manifest {
  file: string;
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  body: Record<string, unknown>;
}

interface Model {
  validate(): void;
}

/** The kinds the manifests may use: the model that validates each, and the module of its TypeScript interface. */
const MODELS: Record<string, { module: string; create: (data: Record<string, unknown>) => Model }> = {
  'v1/Namespace': { module: 'kubernetes-models/v1/Namespace', create: (data) => new Namespace(data) },
  'v1/ConfigMap': { module: 'kubernetes-models/v1/ConfigMap', create: (data) => new ConfigMap(data) },
  'v1/Secret': { module: 'kubernetes-models/v1/Secret', create: (data) => new Secret(data) },
  'v1/Service': { module: 'kubernetes-models/v1/Service', create: (data) => new Service(data) },
  'apps/v1/Deployment': { module: 'kubernetes-models/apps/v1/Deployment', create: (data) => new Deployment(data) },
  'policy/v1/PodDisruptionBudget': {
    module: 'kubernetes-models/policy/v1/PodDisruptionBudget',
    create: (data) => new PodDisruptionBudget(data),
  },
  'autoscaling/v2/HorizontalPodAutoscaler': {
    module: 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler',
    create: (data) => new HorizontalPodAutoscaler(data),
  },
  'networking.k8s.io/v1/Ingress': {
    module: 'kubernetes-models/networking.k8s.io/v1/Ingress',
    create: (data) => new Ingress(data),
  },
};

/** The manifest files (every *.yaml but kustomization.yaml, which is kustomize's, not the API server's). */
export function manifestFiles(): string[] {
  return readdirSync(K8S_DIR)
    .filter((file) => file.endsWith('.yaml') && file !== 'kustomization.yaml')
    .sort();
}

/** Every document of every manifest file; a YAML error throws with the file name. */
export function readManifests(): Manifest[] {
  return manifestFiles().flatMap((file) =>
    parseAllDocuments(readFileSync(join(K8S_DIR, file), 'utf8')).flatMap((document) => {
      if (document.errors.length > 0) {
        throw new Error(`${file}: ${document.errors.map((error) => error.message).join('; ')}`);
      }
      const body = document.toJS() as Record<string, unknown> | null;
      if (body === null) {
        return []; // a comment-only document
      }
      return [{ file, apiVersion: String(body['apiVersion']), kind: String(body['kind']), metadata: body['metadata'] as Manifest['metadata'], body }];
    }),
  );
}

function modelOf(manifest: Manifest): (typeof MODELS)[string] {
  const model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
  if (model === undefined) {
    throw new Error(`${manifest.file}: no schema for ${manifest.apiVersion} ${manifest.kind}: add it to MODELS`);
  }
  return model;
}

/** Problems the Kubernetes schema validators find, as `file kind/name: message` lines. */
export function schemaProblems(manifests: readonly Manifest[]): string[] {
  return manifests.flatMap((manifest) => {
    try {
      modelOf(manifest).create(manifest.body).validate();
      return [];
    } catch (error) {
      return [`${manifest.file} ${manifest.kind}/${manifest.metadata.name}: ${error instanceof Error ? error.message : String(error)}`];
    }
  });
}

/**
 * Problems TypeScript finds when each manifest is written as an object literal of its kind's interface:
 * unknown fields (`readinesProbe`), fields at the wrong level, wrong types. The generated file lives under
 * infra/node_modules/.cache so that `kubernetes-models` resolves from it.
 */
export function strictFieldProblems(manifests: readonly Manifest[]): string[] {
  const dir = `${INFRA_DIR}node_modules/.cache/k8s-strict`;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'manifests.ts');
  const lines: string[] = [];
  manifests.forEach((manifest, index) => {
    const kind = manifest.kind;
    lines.push(`import type { I${kind} as T${index} } from '${modelOf(manifest).module}';`);
    lines.push(`// ${manifest.file} ${kind}/${manifest.metadata.name}`);
    lines.push(`export const m${index}: T${index} = ${JSON.stringify(manifest.body, null, 2)};`);
  });
  writeFileSync(file, `${lines.join('\n')}\n`);
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    types: [],
  });
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    if (diagnostic.file === undefined || diagnostic.start === undefined) {
      return message;
    }
    const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
    const source = diagnostic.file.text.split('\n');
    // The nearest "// file kind/name" comment above the error names the manifest.
    const owner = source.slice(0, line + 1).reverse().find((text) => text.startsWith('// ')) ?? '';
    return `${owner.slice(3)} (generated line ${line + 1}: ${source[line]?.trim() ?? ''}): ${message}`;
  });
}
