import { randomBytes } from 'node:crypto';
import type { Bus, Subscription } from '@gw/bus';
import type { Logger } from '@gw/core';
import { startPresence } from './presence.js';
import type { ClusterView, GatherResult, NodeSummary } from './types.js';

export interface ClusterOptions {
  bus: Bus;
  logger: Logger;
  summary: () => NodeSummary;
  /** How often this node republishes its summary. */
  publishIntervalMs: number;
  /** How long `gather` waits for the other nodes. */
  gatherTimeoutMs: number;
}

interface ClusterRequest {
  id: string;
  kind: string;
  reply_to: string;
}

interface ClusterReply {
  node_id: string;
  answer: unknown;
}

const nodeTopicPrefix = 'cluster.node.';
const requestTopic = 'cluster.request';

/**
 * The cluster through the bus. Presence: each node declares interest in `cluster.node.<id>` (kept alive while
 * it runs, expired when it dies) and publishes its summary there as a latest value. Questions: a request on
 * `cluster.request` names a reply topic; every node answers with its provider's value; the asker waits for
 * every live node or the timeout. Cost is per question, not per message: nothing here is on the hot path.
 */
export async function startClusterView(options: ClusterOptions): Promise<ClusterView & { stop(): Promise<void> }> {
  const { bus, logger } = options;
  const nodeId = bus.nodeId;
  const providers = new Map<string, () => unknown>();
  const presence = await startPresence({
    bus,
    logger,
    topic: `${nodeTopicPrefix}${nodeId}`,
    summary: options.summary,
    publishIntervalMs: options.publishIntervalMs,
  });

  const answer = async (request: ClusterRequest): Promise<void> => {
    const provider = providers.get(request.kind);
    if (provider === undefined) {
      return;
    }
    let value: unknown;
    try {
      // A provider may be asynchronous (a metrics registry is read asynchronously).
      value = await provider();
    } catch (error) {
      logger.error({ err: error, kind: request.kind }, 'cluster provider failed');
      return;
    }
    await bus.publish<ClusterReply>(request.reply_to, { node_id: nodeId, answer: value }).catch((error: unknown) => {
      logger.debug({ err: error }, 'cluster reply not published');
    });
  };
  const requests: Subscription = await bus.subscribe<ClusterRequest>(requestTopic, (message) => {
    void answer(message.data);
  });

  const nodes = async (): Promise<NodeSummary[]> => {
    const topics = await bus.interestedTopics(nodeTopicPrefix);
    const latest = await bus.latestMany<NodeSummary>(topics);
    return latest.flatMap((envelope) => (envelope === undefined ? [] : [envelope.data]));
  };

  const gather = async <T>(kind: string): Promise<GatherResult<T>> => {
    const expected = new Set((await bus.interestedTopics(nodeTopicPrefix)).map((t) => t.slice(nodeTopicPrefix.length)));
    const id = randomBytes(8).toString('hex');
    const replyTo = `cluster.reply.${id}`;
    const answers = new Map<string, T>();
    let done: () => void = () => undefined;
    const complete = new Promise<void>((resolve) => {
      done = resolve;
    });
    const replies = await bus.subscribe<ClusterReply>(replyTo, (message) => {
      answers.set(message.data.node_id, message.data.answer as T);
      if ([...expected].every((node) => answers.has(node))) {
        done();
      }
    });
    const timeout = setTimeout(done, options.gatherTimeoutMs);
    try {
      await bus.publish<ClusterRequest>(requestTopic, { id, kind, reply_to: replyTo });
      await complete;
    } finally {
      clearTimeout(timeout);
      await replies.unsubscribe();
    }
    return {
      answers: [...answers].map(([node_id, answer]) => ({ node_id, answer })),
      missing: [...expected].filter((node) => !answers.has(node)),
    };
  };

  return {
    nodeId,
    provide: (kind, answer) => {
      providers.set(kind, answer);
    },
    gather,
    nodes,
    stop: async () => {
      await requests.unsubscribe().catch(() => undefined);
      await presence.stop();
    },
  };
}
