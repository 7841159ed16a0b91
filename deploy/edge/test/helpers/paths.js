import { fileURLToPath } from "node:url";
import path from "node:path";

export const EDGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const REPO_ROOT = path.resolve(EDGE_DIR, "../..");
