import assert from 'node:assert/strict';
import { composeArgv, execArgs, parseComposeTool } from './compose-cli.js';

describe('compose cli', () => {
  it('accepts both spellings of the compose tool that ensure-docker.sh prints', () => {
    assert.deepEqual(parseComposeTool('docker compose\n'), ['docker', 'compose']);
    assert.deepEqual(parseComposeTool('docker-compose'), ['docker-compose']);
    assert.deepEqual(parseComposeTool('/usr/bin/docker-compose'), ['/usr/bin/docker-compose']);
  });

  it('refuses anything else instead of running it', () => {
    assert.throws(() => parseComposeTool(''), /not a compose command/);
    assert.throws(() => parseComposeTool('ensure-docker: starting dockerd'), /not a compose command/);
    assert.throws(() => parseComposeTool('podman compose'), /not a compose command/);
  });

  it('puts project and files before the subcommand, as both compose versions require', () => {
    const argv = composeArgv({ tool: ['docker', 'compose'], project: 'hafwtest', files: ['a.yml', 'b.yml'] }, ['up', '-d']);
    assert.deepEqual(argv, ['docker', 'compose', '-p', 'hafwtest', '-f', 'a.yml', '-f', 'b.yml', 'up', '-d']);
  });

  it('names profiles (compose 1.28+ and v2) as global options too', () => {
    const argv = composeArgv({ tool: ['docker-compose'], project: 'hafwtest', files: ['docker-compose.yml'], profiles: ['three-nodes'] }, ['up', '-d', 'fw-c']);
    assert.deepEqual(argv, ['docker-compose', '-p', 'hafwtest', '-f', 'docker-compose.yml', '--profile', 'three-nodes', 'up', '-d', 'fw-c']);
  });

  it('execs without a TTY so that it works from CI', () => {
    assert.deepEqual(execArgs('fw-a', ['hafw', 'status', '--json']), ['exec', '-T', 'fw-a', 'hafw', 'status', '--json']);
  });
});
