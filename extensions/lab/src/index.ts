import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { ILauncher } from '@jupyterlab/launcher';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { LabIcon } from '@jupyterlab/ui-components';

import { WorkbenchSidebar } from './sidebar';

/** Command ids (namespace:verb). */
export namespace CommandIDs {
  export const open = 'workbench:open';
  export const start = 'workbench:start-playbook';
  export const refresh = 'workbench:refresh';
}

const PLUGIN_ID = 'workbench-lab:plugin';

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
  optional: [ILauncher, ICommandPalette, ISettingRegistry, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    docManager: IDocumentManager,
    launcher: ILauncher | null,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    restorer: ILayoutRestorer | null
  ) => {
    let current = { pollInterval: 3, defaultRole: '', parameters: {} as Record<string, any> };
    const sidebar = new WorkbenchSidebar({
      openPath: async (path: string) => {
        docManager.openOrReveal(path);
      },
      settings: () => current
    });
    sidebar.title.icon = workbenchIcon;
    app.shell.add(sidebar, 'left', { rank: 150 });
    if (restorer) {
      restorer.add(sidebar, 'workbench-sidebar');
    }
    let loaded = false;
    const loadOnce = () => {
      if (!loaded) {
        loaded = true;
        void sidebar.refreshAll();
      }
    };
    if (sidebar.isVisible) {
      loadOnce();
    }

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

export default plugin;
