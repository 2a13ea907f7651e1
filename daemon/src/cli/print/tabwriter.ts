/**
 * Go's text/tabwriter (left-aligned, space padding, no escapes), as kubectl uses it, so
 * columns line up byte for byte like kubectl's:
 * - tables (`get`): minwidth 6, padding 3, and RememberWidths (liggitt/tabwriter), which keeps
 *   each column at least as wide as it ever was across flushes — that is what keeps `get -w`
 *   rows under their header;
 * - describe / rollout history: minwidth 0, padding 2.
 * Text is split into cells at '\t'; a line's last cell is never padded; a column block is a run
 * of consecutive lines that all have a tab-terminated cell in that column.
 */

interface Cell {
  text: string;
  /** Display width in code points (Go counts UTF-8 runes). */
  width: number;
}

export interface TabWriterOptions {
  minWidth: number;
  padding: number;
  /** Keep column widths across flush() calls (kubectl's table writer). */
  rememberWidths?: boolean;
}

export const TABLE_WRITER: TabWriterOptions = { minWidth: 6, padding: 3, rememberWidths: true };
export const DESCRIBE_WRITER: TabWriterOptions = { minWidth: 0, padding: 2 };

const runeCount = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

export class TabWriter {
  #lines: Cell[][] = [[]];
  #cell = '';
  #widths: number[] = [];
  #maxWidths: number[] = [];
  #out: string[] = [];

  constructor(private readonly opts: TabWriterOptions) {}

  write(text: string): this {
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (ch !== '\t' && ch !== '\v' && ch !== '\n' && ch !== '\f') continue;
      this.#cell += text.slice(start, i);
      start = i + 1;
      const ncells = this.#terminateCell();
      if (ch === '\n' || ch === '\f') {
        this.#lines.push([]);
        // a line of one cell ends every column block: Go flushes here
        if (ch === '\f' || ncells === 1) this.#flushBuffered();
      }
    }
    this.#cell += text.slice(start);
    return this;
  }

  /** Format what is buffered and return all output produced since the last flush(). */
  flush(): string {
    this.#flushBuffered();
    const s = this.#out.join('');
    this.#out = [];
    return s;
  }

  #terminateCell(): number {
    const line = this.#lines[this.#lines.length - 1]!;
    line.push({ text: this.#cell, width: runeCount(this.#cell) });
    this.#cell = '';
    return line.length;
  }

  #flushBuffered(): void {
    if (this.#cell.length > 0) this.#terminateCell();
    this.#format(0, this.#lines.length);
    this.#lines = [[]];
    this.#widths = [];
  }

  #format(line0: number, line1: number): void {
    const column = this.#widths.length;
    for (let i = line0; i < line1; i++) {
      const line = this.#lines[i]!;
      if (column >= line.length - 1) continue;
      // a column block starts here: print the lines before it
      this.#writeLines(line0, i);
      line0 = i;
      let width = this.opts.minWidth;
      for (; i < line1; i++) {
        const l = this.#lines[i]!;
        if (column >= l.length - 1) break;
        width = Math.max(width, l[column]!.width + this.opts.padding);
      }
      if (this.opts.rememberWidths) {
        const prev = this.#maxWidths[column];
        if (prev === undefined) this.#maxWidths[column] = width;
        else if (prev > width) width = prev;
        else this.#maxWidths[column] = width;
      }
      this.#widths.push(width);
      this.#format(line0, i);
      this.#widths.pop();
      line0 = i;
      // (the loop's i++ skips the line that ended the block: it has no cell in this column)
    }
    this.#writeLines(line0, line1);
  }

  #writeLines(line0: number, line1: number): void {
    for (let i = line0; i < line1; i++) {
      const line = this.#lines[i]!;
      line.forEach((c, j) => {
        this.#out.push(c.text);
        const w = this.#widths[j];
        if (w !== undefined) this.#out.push(' '.repeat(Math.max(0, w - c.width)));
      });
      if (i + 1 === this.#lines.length) this.#out.push(this.#cell);
      else this.#out.push('\n');
    }
  }
}

/** Lay out rows of cells with kubectl's table writer settings in one flush. */
export function tabulate(rows: string[][], opts: TabWriterOptions = TABLE_WRITER): string {
  const w = new TabWriter(opts);
  for (const r of rows) w.write(`${r.join('\t')}\n`);
  return w.flush();
}
