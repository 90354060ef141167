/** Test helpers for Prometheus text: scrape `/metrics` and look samples up by name and labels. */

/** One sample line: metric name, labels, value. */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A parsed exposition: samples plus `# TYPE` and `# HELP` per family, and the raw label text per line. */
export interface Scrape {
  samples: PromSample[];
  types: Map<string, string>;
  help: Map<string, string>;
  lines: string[];
  /** Value of the one sample `name` whose labels include `labels`. @throws Error when not exactly one. */
  value(name: string, labels?: Record<string, string>): number;
  /** Every sample `name` whose labels include `labels`. */
  find(name: string, labels?: Record<string, string>): PromSample[];
}

/** Parses Prometheus text exposition format 0.0.4. */
export function parseProm(text: string): Scrape {
  const samples: PromSample[] = [];
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const lines = text.split('\n').filter((l) => l.length > 0);
  for (const line of lines) {
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      types.set(name, type);
      continue;
    }
    if (line.startsWith('# HELP ')) {
      const rest = line.slice(7);
      const sp = rest.indexOf(' ');
      help.set(rest.slice(0, sp), rest.slice(sp + 1));
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`bad exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const lm of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[lm[1]] = lm[2].replace(/\\(.)/g, '$1');
    }
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  const find = (name: string, labels: Record<string, string> = {}) =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return {
    samples,
    types,
    help,
    lines,
    find,
    value(name, labels = {}) {
      const found = find(name, labels);
      if (found.length !== 1) {
        throw new Error(`${found.length} samples of ${name}${JSON.stringify(labels)}`);
      }
      return found[0].value;
    },
  };
}

/** GETs `<base>/metrics` and parses it. @throws Error on a non-200 answer. */
export async function scrape(base: string): Promise<Scrape> {
  const res = await fetch(`${base}/metrics`);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}: ${text}`);
  return parseProm(text);
}
