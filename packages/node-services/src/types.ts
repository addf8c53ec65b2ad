/** One gateway node as the cluster sees it (published by every node, expiring when it dies). */
export interface NodeSummary {
  node_id: string;
  started_at: string;
  /** Open connections by protocol. */
  connections: Record<string, number>;
  draining: boolean;
  bus: string;
}

export interface GatherResult<T> {
  /** One answer per node that answered in time, this node included. */
  answers: { node_id: string; answer: T }[];
  /** Live nodes that did not answer in time (their numbers are missing from an aggregate). */
  missing: string[];
}

/**
 * The cluster as one adapter sees it: which gateway nodes are alive, and a way to ask all of them a question
 * (their stats, their clients) through the bus. With the memory bus the cluster is this process alone.
 */
export interface ClusterView {
  readonly nodeId: string;
  /** Registers this node's answer to `kind` (computed when asked; may return a promise). One provider per kind. */
  provide(kind: string, answer: () => unknown): void;
  /** Asks every live node; resolves after all answered or the timeout, whichever is first. */
  gather<T>(kind: string): Promise<GatherResult<T>>;
  /** The live nodes, from their published summaries. */
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
