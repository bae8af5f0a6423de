import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { ILauncher } from '@jupyterlab/launcher';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStateDB } from '@jupyterlab/statedb';
import { LabIcon } from '@jupyterlab/ui-components';

import { TeamReportView } from './heatmap';
import { guardSavedWidgetOutputs } from './savedwidgets';
import { WorkbenchSidebar } from './sidebar';

/** Command ids (namespace:verb). */
export namespace CommandIDs {
  export const open = 'workbench:open';
  export const start = 'workbench:start-playbook';
  export const refresh = 'workbench:refresh';
  export const teamReport = 'workbench:open-team-report';
}

const PLUGIN_ID = 'workbench-lab:plugin';
/** Where the followed playbook is kept in JupyterLab's state database (per workspace, survives reloads). */
const STATE_KEY = 'workbench-lab:sidebar';

export const workbenchIcon = new LabIcon({
  name: 'workbench-lab:icon',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
    '<path d="M4 4h16v3H4zM6 9h3v11H6zM15 9h3v11h-3zM4 20h16v1H4z"/></g></svg>'
});

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'The Workbench sidebar: playbook catalog, start/resume, task checklist, skills and team report.',
  autoStart: true,
  requires: [IDocumentManager],
  optional: [ILauncher, ICommandPalette, ISettingRegistry, ILayoutRestorer, IStateDB],
  activate: (
    app: JupyterFrontEnd,
    docManager: IDocumentManager,
    launcher: ILauncher | null,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    restorer: ILayoutRestorer | null,
    state: IStateDB | null
  ) => {
    let current = { pollInterval: 3, defaultRole: '', parameters: {} as Record<string, any> };
    const sidebar = new WorkbenchSidebar({
      openPath: async (path: string) => {
        docManager.openOrReveal(path);
      },
      settings: () => current,
      openReport: () => void app.commands.execute(CommandIDs.teamReport),
      saveCurrent: (id: string | null) => {
        if (state) {
          void state.save(STATE_KEY, { current: id });
        }
      }
    });
    sidebar.title.icon = workbenchIcon;
    app.shell.add(sidebar, 'left', { rank: 150 });
    if (restorer) {
      restorer.add(sidebar, 'workbench-sidebar');
    }
    // The followed playbook comes back from the state database before the first load.
    const remembered: Promise<void> = state
      ? state
          .fetch(STATE_KEY)
          .then(value => sidebar.restoreCurrent(((value as any) || {}).current || null))
          .catch(reason => console.warn('workbench-lab: the followed playbook could not be restored', reason))
      : Promise.resolve();
    let loaded = false;
    const loadOnce = () => {
      if (!loaded) {
        loaded = true;
        void remembered.then(() => sidebar.refreshAll());
      }
    };
    if (sidebar.isVisible) {
      loadOnce();
    }
    addTeamReport(app, palette, restorer);
    guardSavedWidgetOutputs(app);

    app.commands.addCommand(CommandIDs.open, {
      label: 'Open Workbench',
      caption: 'Workbench: find, start and track playbooks',
      icon: workbenchIcon,
      execute: () => {
        app.shell.activateById(sidebar.id);
        loadOnce();
      }
    });
    app.commands.addCommand(CommandIDs.start, {
      label: args => (args.id ? `Workbench: start or resume ${args.id}` : 'Workbench: start or resume the current playbook'),
      execute: async args => {
        const id = (args.id as string) || sidebar.current;
        app.shell.activateById(sidebar.id);
        loaded = true;
        if (id) {
          await sidebar.start(id);
        }
      }
    });
    app.commands.addCommand(CommandIDs.refresh, {
      label: 'Workbench: refresh catalog, progress and skills',
      execute: () => sidebar.refreshAll()
    });
    if (palette) {
      for (const command of [CommandIDs.open, CommandIDs.start, CommandIDs.refresh]) {
        palette.addItem({ command, category: 'Workbench' });
      }
    }
    if (launcher) {
      launcher.add({ command: CommandIDs.open, category: 'Other', rank: 0 });
    }
    // Load when the tab is clicked (Lumino shows the widget; no command runs then).
    const observer = new MutationObserver(() => {
      if (sidebar.isVisible) {
        loadOnce();
      }
    });
    observer.observe(sidebar.node, { attributes: true, attributeFilter: ['class'] });

    if (settingRegistry) {
      settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          const read = () => {
            current = {
              pollInterval: settings.get('pollInterval').composite as number,
              defaultRole: settings.get('defaultRole').composite as string,
              parameters: settings.get('parameters').composite as Record<string, any>
            };
          };
          read();
          settings.changed.connect(read);
        })
        .catch(reason => console.error('workbench-lab: settings could not be loaded', reason));
    }
    console.log('workbench-lab is activated');
  }
};

/** The team skills-gap heatmap as a main-area panel: a command, a palette entry, restored with the layout. */
function addTeamReport(app: JupyterFrontEnd, palette: ICommandPalette | null, restorer: ILayoutRestorer | null): void {
  const tracker = new WidgetTracker<MainAreaWidget<TeamReportView>>({ namespace: 'workbench-team-report' });
  app.commands.addCommand(CommandIDs.teamReport, {
    label: 'Workbench: team skills-gap heatmap',
    caption: 'Teams x skills: mean levels against role targets, small teams hidden (managers)',
    icon: workbenchIcon,
    execute: async () => {
      let panel = tracker.currentWidget;
      if (!panel || panel.isDisposed) {
        const content = new TeamReportView();
        panel = new MainAreaWidget({ content });
        panel.id = 'workbench-team-report';
        panel.title.label = 'Team skills heatmap';
        panel.title.icon = workbenchIcon;
        panel.title.closable = true;
        void tracker.add(panel);
        app.shell.add(panel, 'main');
        void content.refresh();
      }
      app.shell.activateById(panel.id);
      return panel;
    }
  });
  if (palette) {
    palette.addItem({ command: CommandIDs.teamReport, category: 'Workbench' });
  }
  if (restorer) {
    void restorer.restore(tracker, { command: CommandIDs.teamReport, name: () => 'team-report' });
  }
}

export default plugin;
