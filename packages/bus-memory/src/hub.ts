import { createEpoch } from '@gw/bus';
import type { Envelope } from '@gw/bus';

/** What the hub needs from a node: delivery of live messages and interest notices. */
export interface HubNode {
  readonly nodeId: string;
  dispatch(message: Envelope): void;
  notifyInterest(topic: string, interested: boolean): void;
}

export interface HistoryEntry {
  seq: number;
  /** The seq of the history entry before this one (0 for the first): lets a reader prove there is no gap. */
  prev: number;
  /** When the hub stored it (ms); age expiry uses this, not the publisher's clock. */
  at: number;
  envelope: Envelope;
}

/** A FIFO with O(1) push and shift (an array with a moving head, compacted now and then). */
export class EntryQueue {
  #items: HistoryEntry[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(entry: HistoryEntry): void {
    this.#items.push(entry);
  }

  shift(): void {
    this.#head += 1;
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }

  /** 0 is the oldest. */
  at(index: number): HistoryEntry | undefined {
    return this.#items[this.#head + index];
  }
}

export interface TopicState {
  epoch: string;
  /** Last id handed out (latest values and history share the sequence). */
  seq: number;
  /** Last seq appended to history; 0 when none. */
  historySeq: number;
  /** maxAgeMs of the last append; -1 before any. */
  maxAgeMs: number;
  latest: Envelope | undefined;
  history: EntryQueue;
}

/** A topic's state in the hub's write order (a list through the states themselves: see `HubCore.writeTopic`). */
interface OrderedTopic {
  readonly name: string;
  readonly state: TopicState;
  older: OrderedTopic | undefined;
  newer: OrderedTopic | undefined;
}

export interface HubLimits {
  maxTopics: number;
  maxHistoryLength: number;
}

/**
 * The shared state of every node on one MemoryHub: the in-process stand-in for Redis. It mirrors the Redis
 * layout (per-topic sequence, latest value, history; per-node liveness with per-node interest sets), so
 * both buses behave alike under the contract suite.
 */
export class HubCore {
  readonly nodes = new Set<HubNode>();
  readonly #topics = new Map<string, OrderedTopic>();
  /** Least and most recently written topics: the ends of the write-order list. */
  #oldest: OrderedTopic | undefined;
  #newest: OrderedTopic | undefined;
  readonly #limits: HubLimits;
  /** nodeId → when its interest expires unless refreshed. */
  readonly #alive = new Map<string, number>();
  readonly #nodeTopics = new Map<string, Set<string>>();
  readonly #topicNodes = new Map<string, Set<string>>();
  readonly #queue: Envelope[] = [];
  #draining = false;

  constructor(limits: HubLimits) {
    this.#limits = limits;
  }

  get maxHistoryLength(): number {
    return this.#limits.maxHistoryLength;
  }

  /**
   * Delivers to every node. A message published by a handler during delivery is queued behind the current
   * one, so every subscriber sees a topic's messages in the same order.
   */
  dispatch(message: Envelope): void {
    this.#queue.push(message);
    if (this.#draining) {
      return;
    }
    this.#draining = true;
    try {
      // Indexing, not for-of: the queue grows while it is drained.
      for (let next = this.#queue[0], i = 1; next !== undefined; next = this.#queue[i], i += 1) {
        for (const node of this.nodes) {
          node.dispatch(next);
        }
      }
    } finally {
      this.#queue.length = 0;
      this.#draining = false;
    }
  }

  topic(topic: string): TopicState | undefined {
    return this.#topics.get(topic)?.state;
  }

  /**
   * The topic's state, created (new epoch) when missing, and marked most recently written. The write order is
   * a linked list through the entries, not the Map's insertion order: moving an entry to the end of a Map (a
   * delete and a set at every write) leaves holes that make the Map rebuild its table again and again.
   */
  writeTopic(topic: string): TopicState {
    let entry = this.#topics.get(topic);
    if (entry === undefined) {
      while (this.#topics.size >= this.#limits.maxTopics && this.#oldest !== undefined) {
        // Evicting a topic loses its state exactly like a Redis restart: the next write starts a new epoch.
        const oldest = this.#oldest;
        this.#unlink(oldest);
        this.#topics.delete(oldest.name);
      }
      entry = {
        name: topic,
        state: { epoch: createEpoch(), seq: 0, historySeq: 0, maxAgeMs: -1, latest: undefined, history: new EntryQueue() },
        older: undefined,
        newer: undefined,
      };
      this.#topics.set(topic, entry);
    } else if (entry === this.#newest) {
      return entry.state;
    } else {
      this.#unlink(entry);
    }
    entry.older = this.#newest;
    if (this.#newest === undefined) {
      this.#oldest = entry;
    } else {
      this.#newest.newer = entry;
    }
    this.#newest = entry;
    return entry.state;
  }

  #unlink(entry: OrderedTopic): void {
    if (entry.older === undefined) {
      this.#oldest = entry.newer;
    } else {
      entry.older.newer = entry.newer;
    }
    if (entry.newer === undefined) {
      this.#newest = entry.older;
    } else {
      entry.newer.older = entry.older;
    }
    entry.older = undefined;
    entry.newer = undefined;
  }

  declare(nodeId: string, topic: string, expiresAt: number): void {
    this.#alive.set(nodeId, expiresAt);
    this.#addTopic(nodeId, topic);
  }

  release(nodeId: string, topic: string): void {
    this.#removeTopic(nodeId, topic);
  }

  /** Keeps a node's interest alive; re-registers it when it has already expired (a stalled node). */
  refresh(nodeId: string, topics: Iterable<string>, expiresAt: number): void {
    const known = this.#alive.has(nodeId);
    this.#alive.set(nodeId, expiresAt);
    if (!known) {
      for (const topic of topics) {
        this.#addTopic(nodeId, topic);
      }
    }
  }

  /** Expires the interest of nodes that stopped refreshing. */
  sweep(now: number): void {
    for (const [nodeId, expiresAt] of this.#alive) {
      if (expiresAt <= now) {
        this.removeNode(nodeId);
      }
    }
  }

  removeNode(nodeId: string): void {
    this.#alive.delete(nodeId);
    const topics = this.#nodeTopics.get(nodeId);
    if (topics === undefined) {
      return;
    }
    for (const topic of [...topics]) {
      this.#removeTopic(nodeId, topic);
    }
    this.#nodeTopics.delete(nodeId);
  }

  interestedTopics(prefix: string): string[] {
    const topics: string[] = [];
    for (const topic of this.#topicNodes.keys()) {
      if (topic.startsWith(prefix)) {
        topics.push(topic);
      }
    }
    return topics.sort();
  }

  #addTopic(nodeId: string, topic: string): void {
    let topics = this.#nodeTopics.get(nodeId);
    if (topics === undefined) {
      topics = new Set();
      this.#nodeTopics.set(nodeId, topics);
    }
    topics.add(topic);
    let nodes = this.#topicNodes.get(topic);
    if (nodes === undefined) {
      nodes = new Set();
      this.#topicNodes.set(topic, nodes);
    }
    if (nodes.has(nodeId)) {
      return;
    }
    nodes.add(nodeId);
    if (nodes.size === 1) {
      this.#notify(topic, true);
    }
  }

  #removeTopic(nodeId: string, topic: string): void {
    this.#nodeTopics.get(nodeId)?.delete(topic);
    const nodes = this.#topicNodes.get(topic);
    if (nodes?.delete(nodeId) !== true) {
      return;
    }
    if (nodes.size === 0) {
      this.#topicNodes.delete(topic);
      this.#notify(topic, false);
    }
  }

  #notify(topic: string, interested: boolean): void {
    for (const node of this.nodes) {
      node.notifyInterest(topic, interested);
    }
  }
}
