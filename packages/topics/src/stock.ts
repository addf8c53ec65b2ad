// stock topics: filled in by the stock protocol work.
export {};
