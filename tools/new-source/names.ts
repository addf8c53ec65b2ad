/** The spellings of one source name that the template and the registration use. */
export interface SourceNames {
  /** `okx-tickers`: the source name, its package directory, config section and topic root. */
  name: string;
  /** `okxTickers`: prefix of exported values (`okxTickersSource`, `okxTickersConfig`). */
  camelName: string;
  /** `OkxTickers`: prefix of exported types (`OkxTickersConfig`). */
  PascalName: string;
  /** `OKX_TICKERS`: prefix of its environment variables and constants. */
  UPPER_NAME: string;
  /** `@gw/source-okx-tickers` */
  packageName: string;
  /** `okxTickersSource`: the DataSource the runtime registers. */
  exportName: string;
}

/** Lower-case words of letters and digits joined by single hyphens, starting with a letter. */
const NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
const MAX_LENGTH = 40;

/**
 * Topic namespaces already published by the gateway's packages (`@gw/topics` and the heartbeat): a source
 * named after one would publish into another's topics.
 */
export const reservedNames: Readonly<Record<string, string>> = {
  signals: 'the signals topic of @gw/topics',
  stock: 'the stock.* topics of @gw/topics',
  trading: 'the trading.* topics of @gw/topics',
  system: 'the system.* topics (system.heartbeat)',
};

/** What is wrong with `name` itself (empty when it is a valid, unreserved source name). */
export function nameProblems(name: string): string[] {
  if (!NAME.test(name)) {
    return [`"${name}" is not a source name: use lower-case letters and digits, words joined by "-", starting with a letter (e.g. okx-tickers)`];
  }
  if (name.length < 2 || name.length > MAX_LENGTH) {
    return [`"${name}" has ${name.length} characters: use 2 to ${MAX_LENGTH}`];
  }
  const reserved = reservedNames[name];
  return reserved === undefined ? [] : [`"${name}" is reserved: it is ${reserved}`];
}

/** The spellings of a valid name. */
export function sourceNames(name: string): SourceNames {
  const words = name.split('-');
  const capitalized = words.map((word) => word.charAt(0).toUpperCase() + word.slice(1));
  const camelName = [words[0] ?? '', ...capitalized.slice(1)].join('');
  return {
    name,
    camelName,
    PascalName: capitalized.join(''),
    UPPER_NAME: words.join('_').toUpperCase(),
    packageName: `@gw/source-${name}`,
    exportName: `${camelName}Source`,
  };
}
