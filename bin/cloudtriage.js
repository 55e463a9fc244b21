#!/usr/bin/env node
// Thin launcher: the real entry point is compiled from src/cli/main.ts.
import "../dist/cli/main.js";
