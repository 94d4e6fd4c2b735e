#!/usr/bin/env node
// The retina-agent command. The agent library owns the command line; this package brings everything it can load.
import '@retina-ts/agent/cli';
