/**
 * Sets top-level keys of a JSON object's text without re-serialising the rest, so a manifest
 * written by another tool (Python's json.dump: `0.0`, its own indentation) keeps every other byte.
 * Replaced values and new keys are formatted like JSON.stringify with the text's indentation.
 */
export function setTopLevelKeys(text: string, values: Record<string, unknown>): string {
  const spans = topLevelSpans(text);
  const indent = /\n([ \t]+)"/.exec(text)?.[1] ?? '  ';
  const format = (v: unknown) => JSON.stringify(v, null, indent).replaceAll('\n', `\n${indent}`);
  let out = text;
  // Replace from the end so earlier offsets stay valid.
  const present = Object.keys(values).filter((k) => spans.has(k)).sort((a, b) => spans.get(b)!.start - spans.get(a)!.start);
  for (const k of present) {
    const { start, end } = spans.get(k)!;
    out = out.slice(0, start) + format(values[k]) + out.slice(end);
  }
  const added = Object.keys(values).filter((k) => !spans.has(k));
  if (added.length) {
    const close = out.lastIndexOf('}');
    const body = out.slice(0, close).replace(/\s*$/, '');
    const sep = body.endsWith('{') ? '' : ',';
    out = `${body}${sep}${added.map((k) => `\n${indent}${JSON.stringify(k)}: ${format(values[k])}`).join(',')}\n${out.slice(close)}`;
  }
  return out;
}

/** Offsets of each top-level key's value in a JSON object's text. */
function topLevelSpans(text: string): Map<string, { start: number; end: number }> {
  const spans = new Map<string, { start: number; end: number }>();
  let i = text.indexOf('{') + 1;
  const ws = () => {
    while (/\s/.test(text[i] ?? '')) i++;
  };
  const skipString = () => {
    for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
    i++;
  };
  const skipValue = () => {
    if (text[i] === '"') return skipString();
    let depth = 0;
    for (; i < text.length; i++) {
      const c = text[i];
      if (c === '"') {
        skipString();
        i--;
      } else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        if (depth === 0) return;
        if (--depth === 0) {
          i++;
          return;
        }
      } else if (c === ',' && depth === 0) return;
    }
  };
  for (ws(); i < text.length && text[i] !== '}'; ws()) {
    const keyStart = i;
    skipString();
    const key = JSON.parse(text.slice(keyStart, i)) as string;
    ws();
    i++; // ':'
    ws();
    const start = i;
    skipValue();
    let end = i;
    while (end > start && /\s/.test(text[end - 1]!)) end--;
    spans.set(key, { start, end });
    ws();
    if (text[i] === ',') i++;
  }
  return spans;
}
