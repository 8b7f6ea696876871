/**
 * A tiny cookie-keeping client over `app.inject()` for page flows: keeps cookies, sends forms, reads the CSRF
 * token out of the last page. Not a browser (the Chromium tests are); enough to drive forms end to end.
 */
import type { FastifyInstance, LightMyRequestResponse } from "fastify";

export class PageClient {
  readonly cookies = new Map<string, string>();
  lastCsrf: string | undefined;

  constructor(
    private readonly app: FastifyInstance,
    private readonly origin: string,
    private readonly ip = "127.0.0.1",
  ) {}

  private remember(response: LightMyRequestResponse) {
    for (const c of response.cookies as { name: string; value: string; maxAge?: number; expires?: Date }[]) {
      const expired =
        c.maxAge === 0 || (c.expires !== undefined && c.expires.getTime() <= Date.now()) || c.value === "";
      if (expired) this.cookies.delete(c.name);
      else this.cookies.set(c.name, c.value);
    }
    const match = /name="csrf" value="([^"]+)"/.exec(response.body);
    if (match) this.lastCsrf = match[1];
  }

  private cookieHeader(): Record<string, string> {
    if (this.cookies.size === 0) return {};
    return { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ") };
  }

  async get(url: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    const response = await this.app.inject({
      method: "GET",
      url,
      remoteAddress: this.ip,
      headers: { ...this.cookieHeader(), ...headers },
    });
    this.remember(response);
    return response;
  }

  async post(
    url: string,
    form: Record<string, string>,
    options: { csrf?: boolean; headers?: Record<string, string> } = {},
  ): Promise<LightMyRequestResponse> {
    const fields = { ...(options.csrf === false || !this.lastCsrf ? {} : { csrf: this.lastCsrf }), ...form };
    const response = await this.app.inject({
      method: "POST",
      url,
      remoteAddress: this.ip,
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        origin: this.origin,
        ...this.cookieHeader(),
        ...options.headers,
      },
      payload: new URLSearchParams(fields).toString(),
    });
    this.remember(response);
    return response;
  }
}
