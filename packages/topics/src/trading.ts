// trading topics: filled in by the trading protocol work.
export {};
