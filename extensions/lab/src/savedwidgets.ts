import { JupyterFrontEnd } from '@jupyterlab/application';

/** The mime type of a widget's view in a notebook output (ipywidgets, anywidget). */
const WIDGET_VIEW = 'application/vnd.jupyter.widget-view+json';
/** How long a saved widget output waits for the widget manager to restore the models it can. */
const RESTORE_WAIT_MS = 15000;

/**
 * Saved widget outputs whose model is gone get a calm note instead of an error.
 *
 * A notebook saved with a widget's output keeps only a reference to the widget's model (its id). Reopened with a
 * fresh kernel (the server or the kernel restarted, the notebook was closed), that model no longer exists, and
 * the Jupyter widgets renderer shows "Error displaying widget: model not found" and logs it as a console error.
 * Nothing is wrong: the learner runs the cell again. So for each notebook this wraps the widgets renderer: once
 * the widget manager has restored what it can (from the kernel, or from widget state saved in the notebook),
 * an output whose model is still unknown says so and how to get the widget back; live widgets render as before.
 */
export function guardSavedWidgetOutputs(app: JupyterFrontEnd): void {
  app.docRegistry.addWidgetExtension('Notebook', {
    createNew: (panel: any) => {
      // After every extension's createNew (the widgets manager registers its renderer there), before any output
      // renders (that waits for the notebook's content to load).
      void Promise.resolve().then(() => wrapRenderer(panel.content.rendermime));
    }
  });
}

function wrapRenderer(rendermime: any): void {
  const factory = rendermime && rendermime.getFactory(WIDGET_VIEW);
  if (!factory || factory.wbGuarded) {
    return;
  }
  const rank = rendermime.getRank(WIDGET_VIEW);
  const guarded = {
    ...factory,
    wbGuarded: true,
    createRenderer: (options: any) => {
      const renderer = factory.createRenderer(options);
      const render = renderer.renderModel.bind(renderer);
      renderer.renderModel = async (model: any) => {
        const id = model.data[WIDGET_VIEW] && model.data[WIDGET_VIEW].model_id;
        const manager = renderer._manager && (await renderer._manager.promise);
        if (id && manager && typeof manager.has_model === 'function' && !manager.has_model(id)) {
          await restoredOrTimeout(manager);
          if (!manager.has_model(id)) {
            renderer.node.textContent =
              'This widget was saved with the notebook, but its kernel has restarted since: run the cell again to use it.';
            renderer.addClass('wb-SavedWidget');
            return;
          }
        }
        return render(model);
      };
      return renderer;
    }
  };
  rendermime.removeMimeType(WIDGET_VIEW);
  rendermime.addFactory(guarded, rank);
}

function restoredOrTimeout(manager: any): Promise<void> {
  if (manager.restoredStatus || !manager.restored) {
    return Promise.resolve();
  }
  return new Promise(resolve => {
    const done = () => {
      manager.restored.disconnect(done);
      window.clearTimeout(timer);
      resolve();
    };
    const timer = window.setTimeout(done, RESTORE_WAIT_MS);
    manager.restored.connect(done);
  });
}
