/** infra/Dockerfile read with dockerfile-ast (the parser of the VS Code Docker tools), stage by stage. */
import { readFileSync } from 'node:fs';
import { Copy, DockerfileParser } from 'dockerfile-ast';
import type { Instruction } from 'dockerfile-ast';
import { INFRA_DIR } from './processes.js';

export const DOCKERFILE = `${INFRA_DIR}Dockerfile`;

/** One instruction: keyword (upper case), argument text without flags, and for COPY its --from stage. */
export interface Step {
  keyword: string;
  args: string;
  from?: string;
}

/** A build stage: its name, what it starts FROM (an image or an earlier stage), its instructions in order. */
export interface Stage {
  name: string;
  from: string;
  steps: Step[];
}

function stepOf(instruction: Instruction): Step {
  const keyword = instruction.getKeyword().toUpperCase();
  const args = instruction.getArgumentsContent() ?? '';
  const from = instruction instanceof Copy ? instruction.getFromFlag()?.getValue() : undefined;
  return from === undefined || from === null ? { keyword, args } : { keyword, args, from };
}

/** The Dockerfile's text. */
export function dockerfileText(): string {
  return readFileSync(DOCKERFILE, 'utf8');
}

/**
 * The stages in file order. `from` has the global ARG defaults substituted (`node:${NODE_VERSION}-…` becomes
 * `node:20.19.5-…`), as `docker build` does without --build-arg.
 */
export function readStages(text = dockerfileText()): Stage[] {
  const dockerfile = DockerfileParser.parse(text);
  const globals = new Map<string, string>();
  const stages: Stage[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    const step = stepOf(instruction);
    const current = stages.at(-1);
    if (step.keyword === 'FROM') {
      const [image = '', , name = ''] = step.args.split(/\s+/);
      const from = image.replace(/\$\{(\w+)\}/g, (_m, arg: string) => globals.get(arg) ?? `\${${arg}}`);
      stages.push({ name, from, steps: [] });
    } else if (current === undefined) {
      if (step.keyword === 'ARG') {
        const [key = '', value = ''] = step.args.split('=');
        globals.set(key, value);
      }
    } else {
      current.steps.push(step);
    }
  }
  return stages;
}

/** The steps a stage runs with, its ancestors' first (a stage FROM another stage inherits USER, WORKDIR, ENV…). */
export function effectiveSteps(stages: readonly Stage[], name: string): Step[] {
  const stage = stages.find((s) => s.name === name);
  if (stage === undefined) {
    throw new Error(`no stage "${name}" in infra/Dockerfile`);
  }
  const parent = stages.find((s) => s.name === stage.from);
  return [...(parent === undefined ? [] : effectiveSteps(stages, parent.name)), ...stage.steps];
}

/** The last value of an instruction that later ones override (USER, WORKDIR, STOPSIGNAL, HEALTHCHECK…). */
export function last(steps: readonly Step[], keyword: string): string | undefined {
  return steps.filter((step) => step.keyword === keyword).at(-1)?.args;
}
