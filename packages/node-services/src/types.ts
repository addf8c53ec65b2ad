/**
 * One gateway node as the cluster sees it. A node may run as several processes (its event loops and their
 * supervisor), each a member of the bus with its own member id; the cluster view merges their summaries so a
 * node is listed once, whatever its member count.
 */
export interface NodeSummary {
  node_id: string;
  /** Live members (processes) of the node behind this summary: 1 for a single-process node. */
  members: number;
  /** The earliest start among the members. */
  started_at: string;
  /** Open connections by protocol, summed over the members. */
  connections: Record<string, number>;
  /** True when any member drains. */
  draining: boolean;
  /** The worst bus state among the members (`connected` only when every member is). */
  bus: string;
}

/** What one member publishes about itself; the cluster view adds the node and member ids. */
export type MemberSummary = Omit<NodeSummary, 'node_id' | 'members'>;

/**
 * Combines the answers of one node's members into the node's answer (its members run the same code, so the
 * asking member's merge stands for all). Called with at least two answers; a single member's answer is used
 * as it is.
 */
export type MergeAnswers<T> = (answers: T[]) => T;

export interface GatherResult<T> {
  /** One answer per node that answered, this node included: the merge of its members' answers. */
  answers: { node_id: string; answer: T }[];
  /**
   * Live nodes whose answer is incomplete: a member that did not answer in time, or no member providing the
   * kind. Their numbers are missing from an aggregate; a node some of whose members answered is also in
   * `answers`, with what those members said.
   */
  missing: string[];
}

/** `gatherNode`: this node's answer, merged over its members. */
export interface NodeGatherResult<T> {
  /** The merged answer of the members that answered (this member always does, if it provides the kind). */
  answer: T | undefined;
  /** Members that answered. */
  members: string[];
  /** Live members of this node that did not answer in time. */
  missing: string[];
}

/**
 * The cluster as one process sees it: which gateway nodes are alive, and a way to ask all of them a question
 * (their stats, their clients) through the bus. A node is one or several members (processes) on the bus; the
 * view answers per node. With the memory bus the cluster is this process alone.
 */
export interface ClusterView {
  /** The node this process belongs to. */
  readonly nodeId: string;
  /** This process on the bus (`bus.nodeId`); equal to `nodeId` for a single-process node. */
  readonly memberId: string;
  /**
   * Registers this member's answer to `kind` (computed when asked; may return a promise), and how the
   * answers of a node's members merge (default: arrays concatenated, objects merged by `mergeTree` with
   * numbers added and arrays concatenated). One provider per kind; a member without one answers "nothing" at
   * once, so a process that never provides a kind does not hold up the question.
   */
  provide<T>(kind: string, answer: () => T | Promise<T>, merge?: MergeAnswers<T>): void;
  /**
   * Asks every live member of every node; resolves once all answered or the timeout passed, with one answer
   * per node (see `GatherResult.missing` for nodes that did not fully answer). Concurrent calls for one kind
   * share one question.
   */
  gather<T>(kind: string): Promise<GatherResult<T>>;
  /**
   * Asks only the members of this node (this one answering in process): the node-wide answer of a
   * multi-process node. Same timeout and sharing as `gather`. Rejects when the bus cannot be asked.
   */
  gatherNode<T>(kind: string): Promise<NodeGatherResult<T>>;
  /** The live nodes, from their members' published summaries, one entry per node. */
  nodes(): Promise<NodeSummary[]>;
}


/** A connection slot held for a user while the connection is open. */
export interface UserSlot {
  release(): void;
}

/**
 * Who may open a connection, shared by every protocol's handshake:
 * - per remote address, a connection-rate limit (local to the node: refuses floods before any token work);
 * - per user, `MAX_CONNECTIONS_PER_USER` open connections across the whole cluster.
 */
export interface Admission {
  /** Counts a connection attempt from `remoteAddress`; false when it is over the rate. Synchronous and cheap. */
  allowAttemptFrom(remoteAddress: string): boolean;
  /** Takes a slot for the user, or refuses when the user is at the limit cluster-wide. */
  acquireUserSlot(userId: number | string): Promise<UserSlot | 'user_connection_limit'>;
}
