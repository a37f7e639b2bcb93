// pager.js: paging through a list endpoint with a cursor (?after=, the
// response's "next"), forwards and back.

import { h, replace } from "./dom.js";

export class Pager {
  // el holds the controls; changed is called after a page change.
  constructor(el, name, changed) {
    this.el = el;
    this.changed = changed;
    this.cursors = [""]; // the after of each page seen
    this.page = 0;
    this.next = "";
    this.prevButton = h("button", { type: "button", class: "button small", "aria-label": `Previous page of ${name}`,
      on: { click: () => this.go(-1) } }, "‹ Previous");
    this.nextButton = h("button", { type: "button", class: "button small", "aria-label": `Next page of ${name}`,
      on: { click: () => this.go(1) } }, "Next ›");
    this.label = h("span", { class: "muted small" });
    replace(el, this.prevButton, this.label, this.nextButton);
    el.hidden = true;
  }

  // after is the cursor of the current page.
  get after() {
    return this.cursors[this.page];
  }

  // update takes the current page's "next" ("" on the last page).
  update(next) {
    this.next = next ?? "";
    this.prevButton.disabled = this.page === 0;
    this.nextButton.disabled = !this.next;
    this.label.textContent = `Page ${this.page + 1}`;
    this.el.hidden = this.page === 0 && !this.next;
  }

  go(d) {
    if (d > 0 && this.next) {
      this.cursors[this.page + 1] = this.next;
      this.page++;
    } else if (d < 0 && this.page > 0) {
      this.page--;
    } else return;
    this.cursors.length = this.page + 1;
    this.changed();
  }

  reset() {
    this.cursors = [""];
    this.page = 0;
    this.update("");
  }
}
