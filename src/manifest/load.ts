// Folders and files → LoadResult. The only part of the manifest package that
// touches the file system: it finds the files (bounded, loop-safe), reads
// each within the limits, and hands the text to the pure loader.

import { lstat, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FogNode, FogObject, LoadError, LoadResult, Service } from '../api/types.js';
import { crossCheck, type Located } from './cross.js';
import { loadError, type ErrorCode } from './errors.js';
import { LIMITS } from './limits.js';
import { normaliseDocument } from './normalise.js';
import { parseText, tooLarge } from './parse.js';

export const DEFAULT_PATH = 'desired';
const MANIFEST_FILE = /\.ya?ml$/i;

/**
 * One file's text → its objects and errors, document by document. Pure and
 * total (never throws). Cross-object checks need the whole set: loadDesired.
 */
export function loadText(file: string, text: string): { objects: FogObject[]; errors: LoadError[] } {
  const { located, errors } = loadLocated(file, text);
  return { objects: located.map((l) => l.object), errors };
}

function loadLocated(file: string, text: string): { located: Located[]; errors: LoadError[] } {
  const parsed = parseText(file, text);
  const located: Located[] = [];
  const errors = [...parsed.errors];
  for (const doc of parsed.docs) {
    const n = normaliseDocument(doc);
    if (n.object) located.push({ object: n.object, doc });
    errors.push(...n.errors);
  }
  return { located, errors };
}

/** Load every manifest under the paths (default `desired/`): what is valid, and what is not, per object. */
export async function loadDesired(paths: string[]): Promise<LoadResult> {
  const found = await findFiles(paths.length > 0 ? paths : [DEFAULT_PATH]);
  const errors = [...found.errors];
  const located: Located[] = [];
  for (const file of found.files) {
    const text = await readText(file, errors);
    if (text === undefined) continue;
    const r = loadLocated(file, text);
    located.push(...r.located);
    errors.push(...r.errors);
  }
  const invalid = new Set(errors.flatMap((e) => (e.object?.startsWith('Service/') ? [e.object.slice('Service/'.length)] : [])));
  const checked = crossCheck(located, invalid);
  errors.push(...checked.errors);
  const objects = checked.kept.map((k) => k.object);
  return {
    nodes: objects.filter((o): o is FogNode => o.kind === 'Node'),
    services: objects.filter((o): o is Service => o.kind === 'Service'),
    errors: sortErrors(errors),
    files: found.files,
  };
}

export function sortErrors(errors: LoadError[]): LoadError[] {
  return [...errors].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.col - b.col));
}

const fsError = (file: string, code: ErrorCode, message: string) => loadError({ file, line: 1, col: 1 }, code, message);

function describe(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const known: Record<string, string> = {
    ENOENT: 'no such file or folder',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    ELOOP: 'symbolic link loop',
    EISDIR: 'is a folder',
  };
  return (code && known[code]) ?? (err instanceof Error ? err.message : String(err));
}

/** Size first (stat, before reading a byte), then UTF-8: a 50 MB file is refused without being read. */
async function readText(file: string, errors: LoadError[]): Promise<string | undefined> {
  try {
    const { size } = await stat(file);
    if (size > LIMITS.maxFileBytes) {
      errors.push(fsError(file, 'file-too-large', tooLarge(size)));
      return undefined;
    }
    const bytes = await readFile(file);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      const text = new TextDecoder('utf-8').decode(bytes);
      const at = text.indexOf('\uFFFD');
      const line = text.slice(0, at).split('\n').length;
      const col = at - text.lastIndexOf('\n', at - 1);
      errors.push(loadError({ file, line, col }, 'not-text', 'not a text file: it is not valid UTF-8'));
      return undefined;
    }
  } catch (err) {
    errors.push(fsError(file, 'unreadable', `cannot read the file: ${describe(err)}`));
    return undefined;
  }
}

interface Folder {
  path: string;
  /** Real paths of this folder and the ones above it in this walk: a link to any of them is a loop. */
  chain: string[];
}

/**
 * Every *.yaml / *.yml below the paths, sorted, hidden entries skipped, each
 * real file once. Iterative, so folder depth cannot overflow the stack.
 */
export async function findFiles(paths: string[]): Promise<{ files: string[]; errors: LoadError[] }> {
  const files: string[] = [];
  const errors: LoadError[] = [];
  const seenFiles = new Set<string>();
  const seenFolders = new Set<string>();
  const addFile = async (path: string): Promise<boolean> => {
    const real = await realpath(path);
    if (seenFiles.has(real)) return true;
    seenFiles.add(real);
    if (files.length >= LIMITS.maxFiles) {
      errors.push(fsError(path, 'too-many-files', `more than ${LIMITS.maxFiles} manifest files (LIMITS.maxFiles); load fewer folders at once`));
      return false;
    }
    files.push(path);
    return true;
  };
  for (const given of paths) {
    try {
      const info = await stat(given);
      if (!info.isDirectory()) {
        if (!(await addFile(given))) break;
        continue;
      }
      const stack: Folder[] = [{ path: given, chain: [await realpath(given)] }];
      seenFolders.add(stack[0]!.chain[0]!);
      while (stack.length > 0) {
        const folder = stack.pop()!;
        const entries = await readFolder(folder.path, errors);
        const subfolders: Folder[] = [];
        for (const name of entries) {
          if (name.startsWith('.')) continue;
          const path = join(folder.path, name);
          const kind = await entryKind(path, name, errors);
          if (kind === 'file' && MANIFEST_FILE.test(name)) {
            if (!(await addFile(path))) return { files, errors };
          } else if (kind === 'folder') {
            const real = await realpath(path);
            if (folder.chain.includes(real)) {
              errors.push(fsError(path, 'symlink-loop', `symbolic link loop: ${path} points back to ${real}, a folder being walked`));
            } else if (!seenFolders.has(real)) {
              seenFolders.add(real);
              subfolders.push({ path, chain: [...folder.chain, real] });
            }
          }
        }
        stack.push(...subfolders.reverse());
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code === 'ELOOP' ? 'symlink-loop' : 'unreadable';
      errors.push(fsError(given, code, `cannot read ${given}: ${describe(err)}`));
    }
  }
  return { files, errors };
}

async function readFolder(path: string, errors: LoadError[]): Promise<string[]> {
  try {
    return (await readdir(path)).sort();
  } catch (err) {
    errors.push(fsError(path, 'unreadable', `cannot read the folder: ${describe(err)}`));
    return [];
  }
}

async function entryKind(path: string, name: string, errors: LoadError[]): Promise<'file' | 'folder' | 'other'> {
  try {
    const info = await stat(path);
    return info.isDirectory() ? 'folder' : info.isFile() ? 'file' : 'other';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') errors.push(fsError(path, 'symlink-loop', `symbolic link loop: ${path} points to itself`));
    else if (
      MANIFEST_FILE.test(name) ||
      (await lstat(path).then(
        (l) => !l.isSymbolicLink(),
        () => true,
      ))
    ) {
      errors.push(fsError(path, 'unreadable', `cannot read ${path}: ${describe(err)}`));
    }
    return 'other';
  }
}
