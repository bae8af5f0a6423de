import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/**
 * An error answered by the Workbench API ({"error", "message", "hint"}) or a lost connection.
 */
export class WorkbenchAPIError extends Error {
  constructor(
    message: string,
    public readonly code: string,
    public readonly status: number,
    public readonly hint: string | null = null
  ) {
    super(message);
  }
}

/**
 * Call a route under /workbench/api/.
 *
 * ServerConnection adds the token and the XSRF header (from the _xsrf cookie), so mutating requests pass
 * jupyter_server's XSRF check.
 *
 * @param endPoint - path below /workbench/api/ (with any query string)
 * @param init - fetch options
 * @returns the decoded JSON body
 */
export async function requestAPI<T>(endPoint = '', init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'workbench', 'api', endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new WorkbenchAPIError(
      'Cannot reach the Jupyter server: it may be restarting or stopped.',
      'network',
      0,
      'Your notebook and finished tasks are saved. Workbench retries on its own; restart the server if this lasts.'
    );
  }
  const text = await response.text();
  let data: any = null;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { message: text };
    }
  }
  if (!response.ok) {
    const message = (data && data.message) || response.statusText || 'request failed';
    const code = (data && data.error) || 'http_' + response.status;
    throw new WorkbenchAPIError(message, code, response.status, (data && data.hint) || null);
  }
  return data as T;
}
