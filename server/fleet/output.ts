/** A bounded tail of text lines: hook output and instance logs (a few KB at most). */
export class Tail {
  private lines: string[] = [];
  private size = 0;
  constructor(private readonly maxBytes = 4_096) {}

  push(text: string): void {
    for (const line of text.split("\n")) {
      if (!line) continue;
      this.lines.push(line);
      this.size += line.length + 1;
    }
    while (this.size > this.maxBytes && this.lines.length > 1) this.size -= (this.lines.shift() ?? "").length + 1;
  }

  toString(): string {
    return this.lines.join("\n");
  }
}
