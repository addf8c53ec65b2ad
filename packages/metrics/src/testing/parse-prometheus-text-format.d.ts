// The package ships no types; this declares the part the tests use (its README documents the shape).
declare module 'parse-prometheus-text-format' {
  namespace parsePrometheusTextFormat {
    /** One series; `value` for counters and gauges, `buckets`/`count`/`sum` for histograms. Values are the raw text. */
    interface Sample {
      labels?: Record<string, string>;
      value?: string;
      buckets?: Record<string, string>;
      count?: string;
      sum?: string;
    }
    /** One metric family (`# HELP` / `# TYPE` block); `type` is upper case, e.g. `COUNTER`. */
    interface Family {
      name: string;
      help: string;
      type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
      metrics: Sample[];
    }
  }
  function parsePrometheusTextFormat(text: string): parsePrometheusTextFormat.Family[];
  export = parsePrometheusTextFormat;
}
