/** The date and time picker: a month whose days holding recordings are marked, and a time of day. */

export interface CalendarHandlers {
  /** Recorded ranges (all cameras) between two instants. */
  ranges(from: number, to: number): Promise<Array<[number, number]>>;
  go(t: number): void;
}

export class Calendar {
  readonly el: HTMLDivElement;
  private month: Date;
  private day: Date;
  private readonly grid: HTMLDivElement;
  private readonly title: HTMLSpanElement;
  private readonly time: HTMLInputElement;

  constructor(private readonly handlers: CalendarHandlers) {
    this.el = document.createElement('div');
    this.el.className = 'popup calendar';
    this.el.hidden = true;
    const now = new Date();
    this.month = new Date(now.getFullYear(), now.getMonth(), 1);
    this.day = new Date(now.getFullYear(), now.getMonth(), now.getDate());
    const head = document.createElement('div');
    head.className = 'cal-head';
    const prev = button('‹', () => this.show(new Date(this.month.getFullYear(), this.month.getMonth() - 1, 1)));
    const next = button('›', () => this.show(new Date(this.month.getFullYear(), this.month.getMonth() + 1, 1)));
    this.title = document.createElement('span');
    head.append(prev, this.title, next);
    this.grid = document.createElement('div');
    this.grid.className = 'cal-grid';
    const foot = document.createElement('div');
    foot.className = 'cal-foot';
    this.time = document.createElement('input');
    this.time.type = 'time';
    this.time.step = '1';
    this.time.value = '12:00:00';
    const go = button('Go', () => this.submit());
    go.className = 'primary';
    this.time.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') this.submit();
      e.stopPropagation();
    });
    foot.append(this.time, go);
    this.el.append(head, this.grid, foot);
  }

  toggle(at: number): void {
    this.el.hidden = !this.el.hidden;
    if (this.el.hidden) return;
    const d = new Date(at);
    this.day = new Date(d.getFullYear(), d.getMonth(), d.getDate());
    const two = (n: number): string => String(n).padStart(2, '0');
    this.time.value = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
    void this.show(new Date(d.getFullYear(), d.getMonth(), 1));
  }

  private async show(month: Date): Promise<void> {
    this.month = month;
    this.title.textContent = month.toLocaleDateString(undefined, { month: 'long', year: 'numeric' });
    const start = new Date(month);
    const end = new Date(month.getFullYear(), month.getMonth() + 1, 1);
    const ranges = await this.handlers.ranges(start.getTime(), end.getTime()).catch(() => []);
    this.grid.replaceChildren();
    for (const name of ['Mo', 'Tu', 'We', 'Th', 'Fr', 'Sa', 'Su']) {
      const h = document.createElement('span');
      h.className = 'cal-dow';
      h.textContent = name;
      this.grid.append(h);
    }
    for (let i = 0; i < (start.getDay() + 6) % 7; i++) this.grid.append(document.createElement('span'));
    for (let d = new Date(start); d < end; d = new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1)) {
      const dayStart = d.getTime();
      const dayEnd = new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1).getTime();
      const has = ranges.some(([a, b]) => a < dayEnd && b >= dayStart);
      const day = new Date(d);
      const b = button(String(d.getDate()), () => {
        this.day = day;
        for (const el of this.grid.querySelectorAll('.selected')) el.classList.remove('selected');
        b.classList.add('selected');
      });
      b.className = `cal-day${has ? ' has' : ''}${day.getTime() === this.day.getTime() ? ' selected' : ''}`;
      b.title = has ? 'recordings on this day' : 'nothing recorded';
      this.grid.append(b);
    }
  }

  private submit(): void {
    const [h = 0, m = 0, s = 0] = this.time.value.split(':').map(Number);
    const t = new Date(this.day.getFullYear(), this.day.getMonth(), this.day.getDate(), h, m, s).getTime();
    this.el.hidden = true;
    this.handlers.go(t);
  }
}

function button(text: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.textContent = text;
  b.addEventListener('click', onClick);
  return b;
}
