// Runs in headless Chromium (see run_browser_tests.mjs) and reports through window.__result:
// ?bundle=URL replays that bundle's conformance vectors; &corrupt=URL also checks the error codes.
import { ExecutionProviderChoice, MoebiusEdge, MoebiusEdgeError, runConformance } from "../src/index.js";

type Result = { ok: true; report: unknown } | { ok: false; error: string };

async function expectCode(what: string, code: string, action: () => Promise<unknown>): Promise<Record<string, string>> {
  try {
    await action();
    return { case: what, expected: code, got: "no error" };
  } catch (error) {
    const got = error instanceof MoebiusEdgeError ? error.code : `non-MoebiusEdgeError ${(error as Error).name}`;
    return { case: what, expected: code, got, message: (error as Error).message };
  }
}

async function errorCases(engine: MoebiusEdge, corruptUrl: string, provider: ExecutionProviderChoice): Promise<unknown> {
  const side = engine.info.imageSize;
  const latent = engine.info.latentChannels * engine.info.latentSize ** 2;
  const cases = [
    await expectCode("missing bundle", "NOT_FOUND", () => MoebiusEdge.open("/bundles/does-not-exist", { executionProvider: provider })),
    await expectCode("corrupted graph", "CORRUPT_BUNDLE", () => MoebiusEdge.open(corruptUrl, { executionProvider: provider })),
    await expectCode("wrong image size", "IMAGE_SIZE", () => engine.inpaint(new ImageData(side / 2, side / 2), new Uint8Array((side / 2) ** 2))),
    await expectCode("step index out of range", "INVALID_ARGUMENT", () =>
      engine.step(new Float32Array(latent), new Float32Array(latent), new Float32Array(engine.info.latentSize ** 2), engine.info.steps),
    ),
    await expectCode("noise of the wrong length", "INVALID_ARGUMENT", () =>
      engine.inpaint(new ImageData(side, side), new Uint8Array(side * side).fill(255), { noise: new Float32Array(7) }),
    ),
  ];
  // An empty mask returns the input unchanged (alpha forced opaque).
  const input = new ImageData(side, side);
  for (let i = 0; i < input.data.length; i++) input.data[i] = (i * 7) % 256;
  const { image } = await engine.inpaint(input, new Uint8Array(side * side));
  let unchanged = true;
  for (let i = 0; i < input.data.length; i++) if (i % 4 !== 3 && image.data[i] !== input.data[i]) unchanged = false;
  return { cases, emptyMaskUnchanged: unchanged };
}

async function main(): Promise<unknown> {
  const params = new URLSearchParams(location.search);
  const provider = (params.get("ep") ?? "wasm") as ExecutionProviderChoice;
  const bundle = params.get("bundle")!;
  const engine = await MoebiusEdge.open(bundle, { executionProvider: provider });
  const report = { ...(await runConformance(bundle, engine)), checksumsVerified: engine.checksumsVerified, crossOriginIsolated, openTimings: engine.openTimings };
  const corrupt = params.get("corrupt");
  return corrupt ? { ...report, errors: await errorCases(engine, corrupt, provider) } : report;
}

const w = window as unknown as { __result?: Result };
main().then(
  (report) => {
    w.__result = { ok: true, report };
    document.getElementById("log")!.textContent = JSON.stringify(report, null, 1);
  },
  (error: Error) => {
    w.__result = { ok: false, error: `${error.name}: ${error.message}\n${error.stack ?? ""}` };
    document.getElementById("log")!.textContent = String(error);
  },
);
