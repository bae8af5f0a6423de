import { Widget } from '@lumino/widgets';

import { button, el, fmt, select } from './dom';
import { requestAPI, WorkbenchAPIError } from './handler';
import { IEvidence, ILevel, IReport, IReportCell } from './types';

/** The taxonomy's scale when an older server sends none. */
const DEFAULT_LEVELS: ILevel[] = [0, 1, 2, 3, 4].map(level => ({ level, name: String(level), descriptor: '' }));

/** The name of the level a (fractional) mean level has reached, e.g. 1.9 -> "aware". */
function levelName(levels: ILevel[], value: number): string {
  const reached = levels.filter(l => l.level <= value + 1e-9).pop();
  return reached ? reached.name : levels[0].name;
}

/**
 * The manager's team skills-gap heatmap, in the main area where it has room: skills (rows) x teams (columns),
 * each cell the team's mean level on the taxonomy's scale, coloured by its gap to the role target (red below,
 * green at or above, grey without a target), small teams hidden; a click lists the cell's newest evidence.
 */
export class TeamReportView extends Widget {
  constructor() {
    super();
    this.addClass('wb-ReportPanel');
    this.roleSelect = select('wb-TargetRole', 'Compare with the targets of');
    this.roleSelect.append(el('option', { text: "each learner's own role", attrs: { value: '' } }));
    this.roleSelect.addEventListener('change', () => void this.refresh());
    this.countsNode = el('p', { className: 'wb-ReportCounts' });
    this.messageNode = el('div', { className: 'wb-Message', attrs: { role: 'alert', 'aria-live': 'polite' } });
    this.legendNode = el('div', { className: 'wb-Legend' });
    this.tableBox = el('div', { className: 'wb-HeatmapBox' });
    this.drillNode = el('div', { className: 'wb-Drill', attrs: { 'aria-live': 'polite' } });
    const controls = el(
      'div',
      { className: 'wb-ReportControls' },
      el('label', { className: 'wb-Field', text: 'Targets ' }, this.roleSelect),
      button('Refresh', 'wb-RefreshReport', () => void this.refresh())
    );
    this.node.append(
      el('div', { className: 'wb-ReportHeader' }, el('h2', { text: 'Team skills-gap heatmap' }), controls),
      this.countsNode,
      this.messageNode,
      this.legendNode,
      this.tableBox,
      this.drillNode
    );
  }

  /** Load (or reload) the report with the chosen targets and draw it. */
  async refresh(): Promise<void> {
    const role = this.roleSelect.value;
    this.node.dataset.loading = 'true';
    try {
      const data = await requestAPI<IReport>('report' + (role ? '?' + new URLSearchParams({ role }) : ''));
      this.render(data);
      this.messageNode.replaceChildren();
      delete this.messageNode.dataset.kind;
    } catch (error) {
      const text = error instanceof WorkbenchAPIError && error.hint ? `${error.message}\nHint: ${error.hint}` : String(error instanceof Error ? error.message : error);
      this.messageNode.textContent = `The team report could not be loaded: ${text}`;
      this.messageNode.dataset.kind = 'error';
    } finally {
      delete this.node.dataset.loading;
    }
  }

  private render(data: IReport): void {
    this.levels = data.levels && data.levels.length ? data.levels : DEFAULT_LEVELS;
    this.minGroup = data.min_group_size;
    if (this.roleSelect.options.length === 1) {
      for (const r of data.roles || []) {
        this.roleSelect.append(el('option', { text: `${r.name} (everyone)`, attrs: { value: r.id } }));
      }
    }
    const counts = data.summary.counts || {};
    this.countsNode.textContent = `${counts.learners ?? 0} learners, ${counts.events ?? 0} events.`;
    for (const message of data.summary.messages || []) {
      this.countsNode.append(el('span', { className: 'wb-Note', text: ' ' + message }));
    }
    this.legendNode.replaceChildren(...this.legend(data));
    this.tableBox.replaceChildren(data.teams.length ? this.table(data) : el('p', { className: 'wb-Empty', text: 'No team evidence yet.' }));
    this.drillNode.replaceChildren();
  }

  /** What a cell means: the level scale with its names, Target, Gap, and the colours. */
  private legend(data: IReport): Node[] {
    const top = this.levels[this.levels.length - 1].level;
    const scale = el('ol', { className: 'wb-LevelScale', attrs: { 'aria-label': 'Level scale' } });
    for (const l of this.levels) {
      scale.append(el('li', { attrs: { title: l.descriptor, 'data-level': String(l.level) } }, el('b', { text: String(l.level) }), ' ' + l.name));
    }
    const swatch = (cls: string, text: string) =>
      el('span', { className: 'wb-LegendItem' }, el('span', { className: `wb-Swatch ${cls}` }), text);
    const targets = data.role
      ? `the targets of the ${(data.roles || []).find(r => r.id === data.role)?.name || data.role} role, for everyone`
      : "the mean of the learners' own role targets";
    return [
      el('p', {}, el('b', { text: 'Level' }), `: the team's mean estimated proficiency, 0-${top}:`, scale),
      el(
        'p',
        {},
        el('b', { text: 'Target' }),
        `: ${targets}. `,
        el('b', { text: 'Gap' }),
        ' = target − level (positive: below target). A cell without a target shows "–": none of its learners has a role with a target for that skill.'
      ),
      el(
        'p',
        { className: 'wb-LegendSwatches' },
        swatch('wb-Heat-below', 'below target (darker: larger gap)'),
        swatch('wb-Heat-met', 'at or above target'),
        swatch('wb-Heat-notarget', 'no role target'),
        swatch('wb-Suppressed', `hidden: fewer than ${data.min_group_size} learners`)
      )
    ];
  }

  private table(data: IReport): HTMLTableElement {
    const teams: string[] = [];
    const cells = new Map<string, IReportCell>();
    for (const row of data.teams) {
      if (!teams.includes(row.team)) {
        teams.push(row.team);
      }
      cells.set(`${row.team}\u0000${row.skill}`, row);
    }
    const suppressed = new Set(data.suppressed_teams);
    const label = (team: string) => (team === data.all_team ? 'all teams' : team);
    const head = el('tr', {}, el('th', { className: 'wb-HeatCorner', text: 'Skill \\ team', attrs: { scope: 'col' } }));
    for (const team of teams) {
      const size = data.teams.find(r => r.team === team && r.team_size !== null)?.team_size;
      const sub = suppressed.has(team) ? data.suppressed_label : size ? `n=${size}` : '';
      head.append(
        el(
          'th',
          { className: suppressed.has(team) ? 'wb-HeatTeam wb-Suppressed' : 'wb-HeatTeam', attrs: { 'data-team': team, scope: 'col' } },
          el('span', { className: 'wb-HeatTeamName', text: label(team) }),
          el('small', { text: sub })
        )
      );
    }
    const body = el('tbody');
    for (const skill of data.skills) {
      const name = data.skill_names[skill] || skill;
      const tr = el('tr', { attrs: { 'data-skill': skill } }, el('th', { text: name, attrs: { scope: 'row' } }));
      for (const team of teams) {
        tr.append(this.cell(cells.get(`${team}\u0000${skill}`), team, skill, name, label(team)));
      }
      body.append(tr);
    }
    return el('table', { className: 'wb-Heatmap' }, el('thead', {}, head), body);
  }

  private cell(row: IReportCell | undefined, team: string, skill: string, skillName: string, teamLabel: string): HTMLTableCellElement {
    const attrs: Record<string, string> = { 'data-team': team, 'data-skill': skill, tabindex: '0', role: 'button' };
    const where = `${teamLabel} · ${skillName}`;
    let td: HTMLTableCellElement;
    if (!row || row.level === null || row.suppressed) {
      const hidden = !!row && row.suppressed;
      const why = hidden ? `hidden: fewer than ${this.minGroup} learners` : 'no evidence yet';
      td = el('td', {
        className: hidden ? 'wb-HeatCell wb-Suppressed' : 'wb-HeatCell wb-NoEvidence',
        text: '–',
        attrs: { ...attrs, title: `${where}: ${why}`, ...(hidden ? { 'data-suppressed': 'true' } : {}) }
      });
      this.onActivate(td, () => this.explain(td, where, why));
      return td;
    }
    const level = row.level;
    const hasTarget = row.target !== null && row.gap !== null;
    const gapText = hasTarget ? (row.gap! > 0 ? `gap ${row.gap! < 0.05 ? '<0.1' : fmt(row.gap)}` : 'target met') : 'no target';
    const title =
      `${where}: level ${fmt(level)} (${levelName(this.levels, level)}), ` +
      (hasTarget ? `target ${fmt(row.target)}, gap ${fmt(row.gap)}` : 'target –, gap –: no role target for this skill') +
      (row.learners ? ` · ${row.learners} learners with evidence` : '');
    td = el(
      'td',
      { className: 'wb-HeatCell', attrs: { ...attrs, 'data-level': String(level), title } },
      el('span', { className: 'wb-HeatLevel', text: fmt(level) }),
      el('small', { className: 'wb-HeatGap', text: gapText })
    );
    if (hasTarget) {
      const gap = row.gap!;
      td.dataset.gap = String(gap);
      td.dataset.target = String(row.target);
      td.classList.add(gap > 0 ? 'wb-Heat-below' : 'wb-Heat-met');
      // Colour strength follows the size of the gap (a full level or more: strongest).
      const strength = gap > 0 ? 25 + Math.round(50 * Math.min(gap, 1.5) / 1.5) : 45;
      td.style.setProperty('--wb-heat-strength', `${strength}%`);
    } else {
      td.classList.add('wb-Heat-notarget');
    }
    this.onActivate(td, () => void this.drill(td, team, skill, teamLabel));
    return td;
  }

  private onActivate(node: HTMLElement, action: () => void): void {
    node.addEventListener('click', action);
    node.addEventListener('keydown', event => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        action();
      }
    });
  }

  private select(cell: HTMLElement): void {
    for (const selected of Array.from(this.node.querySelectorAll('.wb-HeatCell.wb-Selected'))) {
      selected.classList.remove('wb-Selected');
    }
    cell.classList.add('wb-Selected');
  }

  /** Feedback for a cell with nothing to drill into (hidden small group, no evidence). */
  private explain(cell: HTMLElement, where: string, why: string): void {
    this.select(cell);
    this.drillNode.replaceChildren(
      el('div', { className: 'wb-DrillTitle', text: `${where}: ${why}` }, this.closeButton(cell)),
      el('p', {
        className: 'wb-Note',
        text: cell.dataset.suppressed
          ? `Results of groups under ${this.minGroup} people are not shown, so that nobody's scores can be singled out.`
          : 'Nobody in this team has evidence for this skill yet.'
      })
    );
    this.drillNode.dataset.team = cell.dataset.team || '';
    this.drillNode.dataset.skill = cell.dataset.skill || '';
  }

  private closeButton(cell: HTMLElement): HTMLButtonElement {
    return button('Close', 'wb-CloseDrill', () => {
      this.drillNode.replaceChildren();
      cell.classList.remove('wb-Selected');
    }, { small: true, attrs: { 'aria-label': 'Close the evidence' } });
  }

  /** The evidence behind one heatmap cell, newest first. */
  private async drill(cell: HTMLElement, team: string, skill: string, teamLabel: string): Promise<void> {
    this.select(cell);
    const drill = this.drillNode;
    drill.dataset.team = team;
    drill.dataset.skill = skill;
    drill.replaceChildren(el('p', { className: 'wb-Empty', text: 'Loading the evidence…' }));
    try {
      const query = new URLSearchParams({ team, skill });
      if (this.roleSelect.value) {
        query.set('role', this.roleSelect.value);
      }
      const data = await requestAPI<IEvidence>('report/evidence?' + query.toString());
      const shown = data.items.length < data.n ? ` (latest ${data.items.length})` : '';
      drill.replaceChildren(
        el('div', { className: 'wb-DrillTitle', text: `${teamLabel} · ${data.skill_name}: ${data.n} evidence items${shown}` }, this.closeButton(cell))
      );
      if (data.suppressed) {
        drill.append(el('p', { className: 'wb-Note', text: `${data.suppressed_label}: no drill-down for small groups.` }));
        return;
      }
      const table = el('table', { className: 'wb-EvidenceTable' });
      table.append(el('tr', {}, el('th', { text: 'When' }), el('th', { text: 'Playbook · task' }), el('th', { text: 'Evidence' }), el('th', { text: 'Score (0-1)' })));
      for (const item of data.items) {
        const what = [item.source, item.scorer, item.criterion].filter(Boolean).join(' · ');
        table.append(
          el(
            'tr',
            { className: 'wb-EvidenceItem', attrs: { 'data-event-id': item.event_id, title: `learner ${item.learner}` } },
            el('td', { text: item.time ? item.time.slice(0, 10) : '–' }),
            el('td', { text: [item.playbook, item.task].filter(Boolean).join(' · ') || '–' }),
            el('td', { text: what || '–' }),
            el('td', { text: item.outcome === null || item.outcome === undefined ? '–' : item.outcome.toFixed(2) })
          )
        );
      }
      drill.append(table);
    } catch (error) {
      drill.replaceChildren(el('p', { className: 'wb-Broken', text: `The evidence could not be loaded: ${error instanceof Error ? error.message : String(error)}` }));
    }
  }

  private readonly roleSelect: HTMLSelectElement;
  private readonly countsNode: HTMLParagraphElement;
  private readonly messageNode: HTMLDivElement;
  private readonly legendNode: HTMLDivElement;
  private readonly tableBox: HTMLDivElement;
  private readonly drillNode: HTMLDivElement;
  private levels: ILevel[] = DEFAULT_LEVELS;
  private minGroup = 5;
}
