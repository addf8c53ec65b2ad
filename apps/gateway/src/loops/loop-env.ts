/**
 * What the node's supervisor tells each event-loop process it forks, through the environment: internal
 * variables, set only by the supervisor (a user sets `LOOPS`, never these). Read only here, in the app.
 */
export interface LoopAssignment {
  /** 0-based index of this loop. */
  index: number;
  /** How many loops the node runs. */
  count: number;
  /** 0 for a loop's first process, then 1, 2, ... for each one started after the previous died. */
  generation: number;
  /** The node's id (the loops' bus member ids are `<node>~<index>`). */
  nodeId: string;
  /** The embedded bus host's Unix socket; undefined when the node runs on Redis. */
  busSocket: string | undefined;
  /** Every loop's private port on 127.0.0.1, by loop index (Socket.IO polling requests are routed there). */
  privatePorts: readonly number[];
}

const INDEX = 'GATEWAY_LOOP_INDEX';
const COUNT = 'GATEWAY_LOOP_COUNT';
const GENERATION = 'GATEWAY_LOOP_GENERATION';
const NODE = 'GATEWAY_LOOP_NODE_ID';
const BUS_SOCKET = 'GATEWAY_LOOP_BUS_SOCKET';
const PRIVATE_PORTS = 'GATEWAY_LOOP_PRIVATE_PORTS';
const ROLE = 'GATEWAY_NODE_CHILD';

/** What the supervisor tells the node's sources process (see sources-process.ts). */
export interface SourcesAssignment {
  generation: number;
  nodeId: string;
  busSocket: string | undefined;
}

/**
 * The member id of a loop, unique per process on the bus: a loop started again after a crash is a new member
 * (`<node>~<index>.<generation>`), so what its predecessor held (interest, user slots) expires as a crashed
 * node's does instead of being renewed by the successor.
 */
export function loopMemberId(nodeId: string, index: number | 'sources', generation = 0): string {
  return generation === 0 ? `${nodeId}~${String(index)}` : `${nodeId}~${String(index)}.${String(generation)}`;
}

/**
 * A member's process within its node, read back from its member id (`loopMemberId`): `loop-<index>` for an
 * event loop, `sources` for the sources process, whatever the generation; `supervisor` for the node's own id.
 */
export function processOf(nodeId: string, memberId: string): string {
  if (!memberId.startsWith(`${nodeId}~`)) {
    return 'supervisor';
  }
  const slot = memberId.slice(nodeId.length + 1).split('.')[0] ?? '';
  return /^\d+$/.test(slot) ? `loop-${slot}` : slot;
}

export function loopEnv(assignment: LoopAssignment): Record<string, string> {
  return {
    [ROLE]: 'loop',
    [INDEX]: String(assignment.index),
    [COUNT]: String(assignment.count),
    [GENERATION]: String(assignment.generation),
    [NODE]: assignment.nodeId,
    ...(assignment.busSocket === undefined ? {} : { [BUS_SOCKET]: assignment.busSocket }),
    [PRIVATE_PORTS]: assignment.privatePorts.join(','),
  };
}

/** The assignment a forked loop was given; throws when the variables are missing (not started by a supervisor). */
export function readLoopEnv(env: NodeJS.ProcessEnv): LoopAssignment {
  const index = Number(env[INDEX]);
  const count = Number(env[COUNT]);
  const generation = Number(env[GENERATION] ?? '0');
  const nodeId = env[NODE];
  const privatePorts = (env[PRIVATE_PORTS] ?? '').split(',').filter(Boolean).map(Number);
  if (!Number.isInteger(index) || !Number.isInteger(count) || !Number.isInteger(generation) || nodeId === undefined || privatePorts.length !== count) {
    throw new Error('this process was forked as an event loop without its assignment (GATEWAY_LOOP_* variables)');
  }
  return { index, count, generation, nodeId, busSocket: env[BUS_SOCKET], privatePorts };
}

export function sourcesEnv(assignment: SourcesAssignment): Record<string, string> {
  return {
    [ROLE]: 'sources',
    [GENERATION]: String(assignment.generation),
    [NODE]: assignment.nodeId,
    ...(assignment.busSocket === undefined ? {} : { [BUS_SOCKET]: assignment.busSocket }),
  };
}

/** Which of the node's child processes this is: an event loop or the sources process. */
export function nodeChildRole(env: NodeJS.ProcessEnv): 'loop' | 'sources' {
  return env[ROLE] === 'sources' ? 'sources' : 'loop';
}

export function readSourcesEnv(env: NodeJS.ProcessEnv): SourcesAssignment {
  const generation = Number(env[GENERATION] ?? '0');
  const nodeId = env[NODE];
  if (!Number.isInteger(generation) || nodeId === undefined) {
    throw new Error('this process was forked as the sources process without its assignment (GATEWAY_LOOP_* variables)');
  }
  return { generation, nodeId, busSocket: env[BUS_SOCKET] };
}
