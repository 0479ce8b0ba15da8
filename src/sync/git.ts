// The system git, and nothing of git re-implemented: every call is an args
// array (never a shell string) with a timeout, no terminal prompt, and its
// error text redacted before anyone sees it.

import { execFile, spawn } from 'node:child_process';
import { redactUrl } from './redact.js';

export type GitErrorCode = 'git-missing' | 'git-timeout' | 'git-failed';

/** A failed git (or tar) call; `message` is redacted and says which command failed. */
export class GitError extends Error {
  constructor(
    readonly code: GitErrorCode,
    message: string,
  ) {
    super(redactUrl(message));
  }
}

/** The environment of every call: never wait for a password, never ask about a host key. */
export function gitEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return {
    ...base,
    GIT_TERMINAL_PROMPT: '0',
    GIT_SSH_COMMAND: base.GIT_SSH_COMMAND ?? 'ssh -o BatchMode=yes',
    LC_ALL: 'C',
  };
}

/** `git fetch` for `--git-dir X fetch …`: the name in error messages. */
function subcommand(args: readonly string[]): string {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--git-dir' || a === '-C' || a === '-c') i++;
    else if (!a.startsWith('-')) return `git ${a}`;
  }
  return 'git';
}

interface ChildFailure {
  message: string;
  code?: string | number | null;
  killed?: boolean;
  signal?: string | null;
}

function failure(what: string, err: ChildFailure, stderr: string, timeoutMs: number): GitError {
  if (err.code === 'ENOENT') return new GitError('git-missing', `${what}: executable not found on PATH`);
  if (err.killed || err.signal === 'SIGTERM' || err.signal === 'SIGKILL') return new GitError('git-timeout', `${what}: no answer within ${timeoutMs} ms`);
  const detail = stderr.trim().split('\n').filter(Boolean).slice(0, 2).join('; ') || err.message;
  return new GitError('git-failed', `${what}: ${detail}`);
}

/** Run git; resolves with stdout, rejects with a GitError. */
export function git(args: readonly string[], timeoutMs: number, cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', args, { cwd, env: gitEnv(), timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(failure(subcommand(args), err, stderr, timeoutMs));
      else resolve(stdout);
    });
  });
}

/**
 * `git archive <sha> [-- path] | tar -x -C dest`, as two processes joined by
 * a pipe, both killed when the timeout passes.
 */
export function extractRevision(gitDir: string, sha: string, path: string, dest: string, timeoutMs: number): Promise<void> {
  const archiveArgs = ['--git-dir', gitDir, 'archive', '--format=tar', sha, ...(path ? ['--', path] : [])];
  const producer = spawn('git', archiveArgs, { env: gitEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const consumer = spawn('tar', ['-x', '-f', '-', '-C', dest], { env: gitEnv(), stdio: ['pipe', 'ignore', 'pipe'] });
  producer.stdout.pipe(consumer.stdin);
  consumer.stdin.on('error', () => undefined); // tar gone: its own exit code says why
  const wait = (child: typeof producer | typeof consumer, what: string) =>
    new Promise<void>((resolve, reject) => {
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', (err) => reject(failure(what, err, stderr, timeoutMs)));
      child.on('close', (code, signal) => {
        if (code === 0) resolve();
        else reject(failure(what, Object.assign(new Error(`exit ${code ?? signal}`), { signal }), stderr, timeoutMs));
      });
    });
  const timer = setTimeout(() => {
    producer.kill('SIGKILL');
    consumer.kill('SIGKILL');
  }, timeoutMs);
  return Promise.all([wait(producer, 'git archive'), wait(consumer, 'tar -x')]).then(
    () => clearTimeout(timer),
    (err: unknown) => {
      clearTimeout(timer);
      producer.kill('SIGKILL');
      consumer.kill('SIGKILL');
      throw err;
    },
  );
}
