/**
 * The page layout of one bucket's B+tree, planned before a byte of it is written: bbolt's meta
 * page (page 0, the first bytes of the stream) names the root bucket's page and the page count,
 * and a bucket's value names its root page, so every page id must be known up front. The plan
 * takes the leaf elements' sizes in key order (a first pass), packs them into leaf pages, stacks
 * branch levels on top and numbers all of it from a base page id: leaves in key order, then each
 * branch level bottom up, the root last. A second pass then writes the same elements into those
 * pages (etcd-db.ts).
 *
 * Pages are filled up to the page size (bbolt itself splits at a fill percent while writing; a
 * reader accepts any fill). An element larger than a page gets a leaf of its own that runs into
 * overflow pages, as bbolt lays out large values.
 */
import { mvccAssert as assert } from '../../assert.ts';
import { branchElementBytes, branchPage, leafElementBytes, MAX_PAGE_ELEMENTS, PAGE_HEADER_BYTES, pagesFor } from './page.ts';
import type { BranchElement } from './page.ts';

/** One planned leaf page: its elements (a run of the key-ordered input), id and page span. */
export interface PlannedLeaf {
  readonly count: number;
  readonly pgid: number;
  readonly span: number;
}

export class TreePlan {
  readonly pageBytes: number;
  readonly #counts: number[] = [];
  readonly #spans: number[] = [];
  readonly #firstKeys: Uint8Array[] = [];
  #bytes = PAGE_HEADER_BYTES;
  #count = 0;
  #elements = 0;
  #leaves: PlannedLeaf[] | undefined;
  #levels: BranchElement[][][] = [];
  #rootPgid = 0;
  #pageCount = 0;

  constructor(pageBytes: number) {
    this.pageBytes = pageBytes;
  }

  /** The next leaf element in key order; its key is made (by `key`) only when it opens a page. */
  add(keyBytes: number, valueBytes: number, key: () => Uint8Array): void {
    assert(this.#leaves === undefined, 'bolt: a finished plan takes no elements');
    const bytes = leafElementBytes(keyBytes, valueBytes);
    if (this.#count > 0 && (this.#bytes + bytes > this.pageBytes || this.#count === MAX_PAGE_ELEMENTS)) this.#closeLeaf();
    if (this.#count === 0) this.#firstKeys.push(key());
    this.#bytes += bytes;
    this.#count++;
    this.#elements++;
  }

  /** Elements added so far. */
  get elements(): number {
    return this.#elements;
  }

  #closeLeaf(): void {
    this.#counts.push(this.#count);
    this.#spans.push(pagesFor(this.#bytes, this.pageBytes));
    this.#bytes = PAGE_HEADER_BYTES;
    this.#count = 0;
  }

  /** Numbers the pages from `basePgid`; an empty bucket is one empty leaf. */
  finish(basePgid: number): void {
    assert(this.#leaves === undefined, 'bolt: a plan is finished once');
    if (this.#count > 0 || this.#counts.length === 0) this.#closeLeaf();
    if (this.#firstKeys.length < this.#counts.length) this.#firstKeys.push(new Uint8Array(0));
    let pgid = basePgid;
    const leaves: PlannedLeaf[] = [];
    let children: BranchElement[] = [];
    this.#counts.forEach((count, i) => {
      const span = this.#spans[i] as number;
      leaves.push({ count, pgid, span });
      children.push({ key: this.#firstKeys[i] as Uint8Array, pgid });
      pgid += span;
    });
    this.#firstKeys.length = 0;
    while (children.length > 1) {
      const pages = this.#packBranches(children);
      children = pages.map((page) => ({ key: (page[0] as BranchElement).key, pgid: pgid++ }));
      this.#levels.push(pages);
    }
    this.#leaves = leaves;
    this.#rootPgid = (children[0] as BranchElement).pgid;
    this.#pageCount = pgid - basePgid;
  }

  #packBranches(children: readonly BranchElement[]): BranchElement[][] {
    const pages: BranchElement[][] = [];
    let page: BranchElement[] = [];
    let bytes = PAGE_HEADER_BYTES;
    for (const c of children) {
      const b = branchElementBytes(c.key.length);
      if (page.length > 0 && bytes + b > this.pageBytes) {
        pages.push(page);
        page = [];
        bytes = PAGE_HEADER_BYTES;
      }
      page.push(c);
      bytes += b;
    }
    pages.push(page);
    return pages;
  }

  get leaves(): readonly PlannedLeaf[] {
    assert(this.#leaves !== undefined, 'bolt: the plan is finished first');
    return this.#leaves;
  }

  get rootPgid(): number {
    return this.#rootPgid;
  }

  /** Pages the bucket's tree takes (leaves with their overflow, and branches). */
  get pageCount(): number {
    return this.#pageCount;
  }

  /** The branch pages, in page id order (they follow the leaves). */
  *branchPages(): IterableIterator<Uint8Array> {
    let pgid = this.#rootPgid - this.#levels.reduce((n, level) => n + level.length, 0) + 1;
    for (const level of this.#levels) for (const children of level) yield branchPage(pgid++, children, this.pageBytes);
  }
}
