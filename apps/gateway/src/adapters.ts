import { createSignalsAdapter, signalsAdapterConfig } from '@gw/adapter-signals';
import { createSocketIoAdapter, socketioConfig } from '@gw/adapter-socketio';
import { createStockAdapter, stockAdapterConfig } from '@gw/adapter-stock';
import type { ConfigOf } from '@gw/config';
import type { ProtocolAdapter } from '@gw/connections';

/** Configuration sections of the built-in protocol adapters, composed with the gateway's own. */
export const adapterSections = {
  signals: signalsAdapterConfig,
  stock: stockAdapterConfig,
  socketio: socketioConfig,
};

export type AdapterConfig = ConfigOf<typeof adapterSections>;

/** Every protocol this gateway speaks. A new protocol package is added here (and its section above). */
export function builtInAdapters(config: AdapterConfig): ProtocolAdapter[] {
  return [
    createSignalsAdapter(config.signals),
    createStockAdapter(config.stock),
    createSocketIoAdapter(config.socketio),
  ];
}
