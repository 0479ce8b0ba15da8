// A binary min-heap with a comparator; the scheduler uses it with lazy
// re-keying (keys only grow while one service is being placed).

export class Heap<T> {
  private readonly items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(x: T): void {
    const a = this.items;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }

  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      this.down(0);
    }
    return top;
  }

  /** Build from an array in O(n). */
  static from<T>(xs: readonly T[], less: (a: T, b: T) => boolean): Heap<T> {
    const h = new Heap(less);
    for (const x of xs) h.items.push(x);
    for (let i = (xs.length >> 1) - 1; i >= 0; i--) h.down(i);
    return h;
  }

  private down(i: number): void {
    const a = this.items;
    const n = a.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(a[l]!, a[m]!)) m = l;
      if (r < n && this.less(a[r]!, a[m]!)) m = r;
      if (m === i) return;
      [a[i], a[m]] = [a[m]!, a[i]!];
      i = m;
    }
  }
}

/**
 * A min-heap of node indices keyed by (own, score, index), in flat typed
 * arrays: placing 50k replicas pushes millions of entries, and objects per
 * entry would cost more in allocation than the comparisons themselves.
 * Node indices follow name order, so the last key is the name tiebreak.
 */
export class NodeHeap {
  private readonly idx: Int32Array;
  private readonly own: Int32Array;
  private readonly score: Float64Array;
  size = 0;

  constructor(capacity: number) {
    this.idx = new Int32Array(Math.max(1, capacity));
    this.own = new Int32Array(Math.max(1, capacity));
    this.score = new Float64Array(Math.max(1, capacity));
  }

  /** Append without ordering; call heapify() once after a batch of adds. */
  add(index: number, own: number, score: number): void {
    const i = this.size++;
    this.idx[i] = index;
    this.own[i] = own;
    this.score[i] = score;
  }

  heapify(): void {
    for (let i = (this.size >> 1) - 1; i >= 0; i--) this.down(i);
  }

  get topIndex(): number {
    return this.size > 0 ? this.idx[0]! : -1;
  }
  get topOwn(): number {
    return this.own[0]!;
  }
  get topScore(): number {
    return this.score[0]!;
  }

  pop(): void {
    const last = --this.size;
    if (last > 0) {
      this.move(last, 0);
      this.down(0);
    }
  }

  /** Replace the top with new keys (lazy re-keying: keys only grow) and restore order. */
  rekeyTop(own: number, score: number): void {
    this.own[0] = own;
    this.score[0] = score;
    this.down(0);
  }

  private less(a: number, b: number): boolean {
    const oa = this.own[a]!;
    const ob = this.own[b]!;
    if (oa !== ob) return oa < ob;
    const sa = this.score[a]!;
    const sb = this.score[b]!;
    if (sa !== sb) return sa < sb;
    return this.idx[a]! < this.idx[b]!;
  }

  private move(from: number, to: number): void {
    this.idx[to] = this.idx[from]!;
    this.own[to] = this.own[from]!;
    this.score[to] = this.score[from]!;
  }

  private swap(a: number, b: number): void {
    const i = this.idx[a]!;
    const o = this.own[a]!;
    const s = this.score[a]!;
    this.move(b, a);
    this.idx[b] = i;
    this.own[b] = o;
    this.score[b] = s;
  }

  private down(i: number): void {
    const n = this.size;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(l, m)) m = l;
      if (r < n && this.less(r, m)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }
}
