// Reading Hop3's files as Hop3 writes them: manifests (catalog shapes and the schema's edge
// cases), LIVE_ENV, vassal names, the process match, and untrusted files that are not what they
// seem (a FIFO, a link out of the app, a huge file).

import { execFileSync, spawn } from "node:child_process";
import { mkdir, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { enabledVassals } from "../src/hop3/apps.js";
import { readBoundedFile } from "../src/hop3/files.js";
import { parseEnvLines, readAppListen } from "../src/hop3/liveenv.js";
import { ManifestError, parseManifest, readManifest } from "../src/hop3/manifest.js";
import { appsOfProcess, processTable, readProcessSync } from "../src/hop3/processes.js";
import { tempDir } from "./helpers/cli.js";

const MANIFESTS = fileURLToPath(new URL("./fixtures/manifests/", import.meta.url));

describe("hop3.toml", () => {
  it("takes every manifest shape Hop3's catalog uses", async () => {
    const read = async (name: string): Promise<ReturnType<typeof parseManifest>> =>
      parseManifest(name, await readFile(path.join(MANIFESTS, name), "utf8"));
    const files = (await readdir(MANIFESTS)).filter((f) => f.endsWith(".toml"));
    expect(files.length).toBeGreaterThanOrEqual(6);
    for (const file of files) await expect(read(file), file).resolves.toBeDefined();

    expect(await read("docker-root-path.toml")).toEqual({ file: "docker-root-path.toml", path: "/" });
    expect(await read("tarball-with-timeout.toml")).toEqual({ file: "tarball-with-timeout.toml", path: "/index.php/login", timeout: 30 });
    expect(await read("native-build.toml")).toEqual({ file: "native-build.toml", path: "/healthz" });
    // An empty [healthcheck] path is falsy: [run] healthcheck is the path, as Hop3's healthcheck_path says.
    expect(await read("schema-combinations.toml")).toEqual({
      file: "schema-combinations.toml",
      path: "/legacy-health",
      contains: "ok",
      interval: 30,
      timeout: 3,
      retries: 2,
      startTimeout: 90.5,
    });
    expect(await read("contains-only.toml")).toEqual({ file: "contains-only.toml", path: "/", contains: "<title>Wiki</title>" });
    expect(await read("no-healthcheck.toml")).toEqual({ file: "no-healthcheck.toml" });
  });

  it("refuses what Hop3 refuses, naming file, key and reason", () => {
    const problem = (text: string): string => {
      try {
        parseManifest("/srv/app/hop3.toml", text);
      } catch (error) {
        if (error instanceof ManifestError) return error.message;
      }
      return "accepted";
    };
    expect(problem('[healthcheck]\npath = "/h"\nexpected_status = 204\n')).toBe(
      `manifest invalid: /srv/app/hop3.toml: healthcheck: unknown key "expected_status" (Hop3 refuses it; hop3-health's accept_status goes in its own config, [apps.<name>])`,
    );
    expect(problem("[healthcheck]\ntimeout = 0.5\n")).toBe("manifest invalid: /srv/app/hop3.toml: healthcheck.timeout: expected a whole number, got 0.5");
    expect(problem("[healthcheck]\npath = 5\n")).toBe("manifest invalid: /srv/app/hop3.toml: healthcheck.path: expected a string, got 5");
    expect(problem('healthcheck = "/h"\n')).toBe('manifest invalid: /srv/app/hop3.toml: healthcheck: expected a table, such as [healthcheck] path = "/health"');
    expect(problem('[run]\nstart-timeout = "soon"\n')).toBe('manifest invalid: /srv/app/hop3.toml: run.start-timeout: expected a number of seconds, got "soon"');
    expect(problem("[healthcheck\n")).toMatch(/^manifest invalid: \/srv\/app\/hop3.toml: not valid TOML at line 1, column \d+$/);
    expect(problem(`[healthcheck]\npath = "/${"x".repeat(5000)}"\n`)).toBe("manifest invalid: /srv/app/hop3.toml: healthcheck.path: 5001 characters, more than the 2048 hop3-health takes");
    // A tenant's numbers are bounded: no window of 1e300 s (or 1e9: maintenance until 2058), no endless probes.
    expect(problem("[run]\nstart-timeout = 1e300\n")).toBe("manifest invalid: /srv/app/hop3.toml: run.start-timeout: 1e+300 is out of range: expected 0 to 3600s");
    expect(problem("[run]\nstart-timeout = 1e400\n")).toMatch(/^manifest invalid: \/srv\/app\/hop3.toml: run.start-timeout: /);
    expect(problem('[run]\nstart-timeout = "1000000000"\n')).toBe("manifest invalid: /srv/app/hop3.toml: run.start-timeout: 1000000000 is out of range: expected 0 to 3600s");
    expect(problem("[healthcheck]\ninterval = 100000000\n")).toBe("manifest invalid: /srv/app/hop3.toml: healthcheck.interval: 100000000 is out of range: expected 0 to 3600s");
    expect(problem("[healthcheck]\nretries = 1000\n")).toBe("manifest invalid: /srv/app/hop3.toml: healthcheck.retries: 1000 is out of range: expected 0 to 100");
    expect(problem("[healthcheck]\ntimeout = -5\n")).toBe("manifest invalid: /srv/app/hop3.toml: healthcheck.timeout: -5 is out of range: expected 0 to 600s");
    expect(problem("[run]\nhealthcheck-timeout = 99999\n")).toBe("manifest invalid: /srv/app/hop3.toml: run.healthcheck-timeout: 99999 is out of range: expected 0 to 600s");
    // What catalog apps write stays accepted.
    expect(problem('[healthcheck]\npath = "/health"\ninterval = 30\ntimeout = 10\nretries = 3\n[run]\nstart-timeout = 120.5\nhealthcheck-timeout = 30\n')).toBe("accepted");
  });

  it("never blocks on a FIFO, opens only regular files, never follows a link out of the app, and bounds the size", async () => {
    const app = path.join(tempDir(), "apps", "x");
    await mkdir(path.join(app, "src"), { recursive: true });
    // What is not a regular file is never opened for reading: a writer waiting on the FIFO (as a
    // device's driver would act on an open) is still waiting afterwards.
    const fifo = path.join(app, "src", "hop3.toml");
    execFileSync("mkfifo", [fifo]);
    const writer = spawn("sh", ["-c", `exec 3>"${fifo}"; echo opened`], { stdio: ["ignore", "pipe", "ignore"] });
    let said = "";
    writer.stdout.on("data", (chunk: Buffer) => (said += chunk.toString()));
    await expect(readManifest(app)).rejects.toThrow(`manifest invalid: ${app}/src/hop3.toml: cannot be read: not a regular file`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    writer.kill();
    expect(said).toBe("");

    const other = path.join(tempDir(), "secret.toml");
    await writeFile(other, '[healthcheck]\npath = "/stolen"\n');
    const linked = path.join(tempDir(), "apps", "y");
    await mkdir(path.join(linked, "src", "hop3"), { recursive: true });
    await symlink(other, path.join(linked, "src", "hop3", "hop3.toml"));
    await expect(readManifest(linked)).rejects.toThrow(/it links outside .*\/apps\/y \(not followed\)$/);

    const big = path.join(tempDir(), "big");
    await writeFile(big, "x".repeat(2000));
    await expect(readBoundedFile(big, { maxBytes: 1000 })).rejects.toThrow(`cannot read ${big}: 2000 bytes, more than the 1000 read at most`);
    expect(await readBoundedFile(big, { maxBytes: 2000 })).toHaveLength(2000);
  });
});

describe("LIVE_ENV", () => {
  it("keeps PORT, HOST_NAME and BIND_ADDRESS only, split at the first =", async () => {
    const kept = parseEnvLines("APP=x\nDATABASE_URL=postgres://u:p=w@h/db\nHOST_NAME=a.example.com b.example.com\nPORT=8123\n# PORT=1\n\nBIND_ADDRESS=0.0.0.0\nbroken line\n");
    expect(Object.fromEntries(kept)).toEqual({ HOST_NAME: "a.example.com b.example.com", PORT: "8123", BIND_ADDRESS: "0.0.0.0" });

    const app = path.join(tempDir(), "apps", "x");
    await mkdir(path.join(app, "venv"), { recursive: true });
    await writeFile(path.join(app, "venv", "LIVE_ENV"), "HOST_NAME=_\nPORT=0\n");
    expect(await readAppListen(app)).toEqual({ port: 0, bindAddress: "127.0.0.1", source: path.join(app, "venv", "LIVE_ENV") });
    await writeFile(path.join(app, "venv", "LIVE_ENV"), "BIND_ADDRESS=::\nHOST_NAME=  shop.example.com   www.shop.example.com\nPORT=9000\n");
    expect(await readAppListen(app)).toEqual({ port: 9000, bindAddress: "::1", hostName: "shop.example.com", source: path.join(app, "venv", "LIVE_ENV") });
    // No PORT in LIVE_ENV: the legacy ENV file.
    await writeFile(path.join(app, "venv", "LIVE_ENV"), "APP=x\n");
    await writeFile(path.join(app, "ENV"), 'export PORT="7000"\n');
    expect(await readAppListen(app)).toMatchObject({ port: 7000, source: path.join(app, "ENV") });
  });
});

describe("vassals and processes", () => {
  it("gives each vassal file to the longest app name it starts with", async () => {
    const root = tempDir();
    await mkdir(path.join(root, "uwsgi-enabled"));
    for (const f of ["a_web.1.ini", "a_b_web.1.ini", "a_b_worker.2.ini", "ab_web.1.ini", "a_web.ini", "README"]) await writeFile(path.join(root, "uwsgi-enabled", f), "[uwsgi]\n");
    const found = await enabledVassals(root, ["a", "a_b"]);
    expect(found.get("a")!.map((v) => [v.kind, v.ordinal])).toEqual([["web", 1]]);
    expect(found.get("a_b")!.map((v) => [v.kind, v.ordinal])).toEqual([
      ["web", 1],
      ["worker", 2],
    ]);
  });

  it("counts a process as the app's by its procname prefix or its folder, not by a lookalike", () => {
    const apps = "/home/hop3/apps";
    const belongs = (argv: string[], cwd?: string): boolean => appsOfProcess({ pid: 1, ppid: 0, startTicks: 0, comm: "x", argv, zombie: false, ...(cwd ? { cwd } : {}) }, apps).includes("shop");
    expect(belongs(["shop:wsgi:uWSGI worker 1"])).toBe(true);
    expect(belongs(["node", "server.js"], "/home/hop3/apps/shop/src")).toBe(true);
    expect(belongs(["node", "server.js"], "/home/hop3/apps/shop")).toBe(true);
    expect(belongs(["/home/hop3/apps/shop/venv/bin/gunicorn", "app"])).toBe(true);
    expect(belongs(["sh", "-c", "tail -F /var/log/x /home/hop3/apps/shop/log/web.1.log"])).toBe(true);
    expect(belongs(["myshop:wsgi:uWSGI worker 1"])).toBe(false);
    expect(belongs(["node", "server.js"], "/home/hop3/apps/shopping/src")).toBe(false);
    expect(belongs(["node", "/other/root/apps/shop/server.js"])).toBe(false);
  });

  it("reads a process's command line and folder, and of a kernel thread only its stat", async () => {
    const self = readProcessSync(process.pid)!;
    expect(self).toMatchObject({ pid: process.pid, ppid: process.ppid, cwd: process.cwd(), zombie: false });
    expect(self.argv[0]).toBe(process.argv0);
    // Kernel threads are kthreadd's children, where /proc shows them (not in a container's PID namespace).
    const kernelThreads = (await processTable()).filter((p) => p.ppid === 2);
    if (readProcessSync(2)?.comm === "kthreadd") expect(kernelThreads.length).toBeGreaterThan(0);
    for (const thread of kernelThreads) {
      expect(thread.argv).toEqual([]);
      expect(thread.cwd).toBeUndefined();
    }
  });
});
