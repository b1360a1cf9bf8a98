package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// nginxConfig is nginx as a reverse proxy to the same backends, doing the
// work Flotilla does per request: X-Forwarded-For appended to,
// X-Forwarded-Proto and -Port set, a request ID added (Flotilla's
// X-Amzn-Trace-Id), the Host header passed through, and keep-alive
// connections to the upstreams (HTTP/1.1 with the Connection header
// cleared). Everything it writes is under its prefix, a temporary directory.
const nginxConfig = `daemon off;
master_process on;
worker_processes %d;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events {
	worker_connections 4096;
}
http {
	access_log off;
	client_body_temp_path %[2]s/client_body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	upstream backends {
%[3]s		keepalive 1024;
	}
	server {
		listen %[4]s;
		location / {
			proxy_pass http://backends;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host $http_host;
			proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
			proxy_set_header X-Forwarded-Proto $scheme;
			proxy_set_header X-Forwarded-Port $server_port;
			proxy_set_header X-Amzn-Trace-Id $request_id;
		}
	}
}
`

// writeNginxConfig writes nginx's configuration into dir and returns its
// path.
func writeNginxConfig(dir, addr string, backends []string, workers int) (string, error) {
	var servers strings.Builder
	for _, b := range backends {
		fmt.Fprintf(&servers, "\t\tserver %s;\n", b)
	}
	path := filepath.Join(dir, "nginx.conf")
	conf := fmt.Sprintf(nginxConfig, workers, dir, servers.String(), addr)
	return path, os.WriteFile(path, []byte(conf), 0o600)
}

// startNginxIn starts an nginx named name, with its prefix in a directory
// of that name under dir, on a free port of 127.0.0.1, proxying to
// backends.
func startNginxIn(ctx context.Context, c config, dir, name string, backends []string) (*process, error) {
	dir = filepath.Join(dir, name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	conf, err := writeNginxConfig(dir, addr, backends, c.workers)
	if err != nil {
		return nil, err
	}
	return startNginx(ctx, name, c.nginx, dir, conf, addr)
}

// startNginx starts nginx with its prefix in dir and waits until it accepts
// connections on addr.
func startNginx(ctx context.Context, name, nginx, dir, conf, addr string) (*process, error) {
	cmd := exec.Command(nginx, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start nginx: %w", err)
	}
	p := &process{name: name, cmd: cmd, ready: addr, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return p, nil
		}
		select {
		case <-p.done:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			return nil, fmt.Errorf("%s exited: %s", name, log)
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s not listening on %s within 10s", name, addr)
		}
	}
}

// freeAddr returns an address of 127.0.0.1 with a port free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
