import { startSimulator } from './index.js';

/** `wxops sim`: the simulator standalone; one JSON line on stdout, then serve until signalled. */
export async function runSimulatorProcess(opts: { port?: number; dataDir: string }): Promise<void> {
  const sim = await startSimulator({ dataDir: opts.dataDir, port: opts.port ?? 0 });
  const c = sim.credentials;
  process.stdout.write(
    `${JSON.stringify({
      wecom_base_url: sim.baseUrl,
      mp_base_url: sim.mpBaseUrl,
      control_url: sim.controlUrl,
      corp_id: c.corp_id,
      contacts_secret: c.contacts_secret,
      app_secret: c.app_secret,
      agent_id: c.agent_id,
      customer_secret: c.customer_secret,
      callback_token: c.callback_token,
      encoding_aes_key: c.encoding_aes_key,
      mp_appid: c.mp_appid,
      mp_secret: c.mp_secret,
      mp_original_id: c.mp_original_id,
      mp_token: c.mp_token,
      mp_aes_key: c.mp_aes_key,
      webhook_key: c.webhook_key,
      bot_id: c.bot_id,
      bot_token: c.bot_token,
      bot_aes_key: c.bot_aes_key,
      data_dir: opts.dataDir,
      env: sim.env,
    })}\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await sim.close();
}
