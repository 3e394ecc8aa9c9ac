// A strict reader of Prometheus text exposition format 0.0.4 for the ops tests: every line must
// be a HELP, a TYPE or a sample of the family last declared, else it throws. Not a test file.

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly samples: Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)$`);
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;

function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const m = LABEL.exec(text);
    if (m === null) throw new Error(`bad labels: {${text}}`);
    out[m[1]!] = m[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
  }
  return out;
}

function parseValue(text: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  const v = Number(text);
  if (text.trim() === '' || Number.isNaN(v)) throw new Error(`bad value: ${text}`);
  return v;
}

/** Families by name. Throws on any line that is not valid text format. */
export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  let current: { name: string; help: string; type: string; samples: Sample[] } | undefined;
  if (!text.endsWith('\n')) throw new Error('the text must end with a newline');
  for (const line of text.slice(0, -1).split('\n')) {
    const help = /^# HELP (\S+) (.*)$/.exec(line);
    if (help !== null) {
      if (families.has(help[1]!)) throw new Error(`family ${help[1]} declared twice`);
      current = { name: help[1]!, help: help[2]!, type: '', samples: [] };
      families.set(current.name, current);
      continue;
    }
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type !== null) {
      if (current === undefined || current.name !== type[1]) throw new Error(`TYPE without its HELP: ${line}`);
      current.type = type[2]!;
      continue;
    }
    const m = SAMPLE.exec(line);
    if (m === null || current === undefined) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const name = m[1]!;
    const ok = current.type === 'histogram' ? [`${current.name}_bucket`, `${current.name}_sum`, `${current.name}_count`].includes(name) : name === current.name;
    if (!ok) throw new Error(`sample ${name} outside its family ${current.name}`);
    current.samples.push({ name, labels: m[2] === undefined ? {} : parseLabels(m[2]), value: parseValue(m[3]!) });
  }
  return families;
}

/** The one value of an unlabelled family; throws if absent. */
export function valueOf(families: Map<string, Family>, name: string): number {
  const f = families.get(name);
  if (f === undefined) throw new Error(`no family ${name}`);
  const s = f.samples.find((x) => x.name === name && Object.keys(x.labels).length === 0);
  if (s === undefined) throw new Error(`no unlabelled sample of ${name}`);
  return s.value;
}

/** `name_count` of a histogram (with `labels` when given). */
export function histogramCount(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const f = families.get(name);
  if (f === undefined) throw new Error(`no family ${name}`);
  const s = f.samples.find((x) => x.name === `${name}_count` && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  if (s === undefined) throw new Error(`no ${name}_count ${JSON.stringify(labels)}`);
  return s.value;
}
