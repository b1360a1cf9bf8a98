package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/cabundle"
)

// Config is everything a server needs, filled from flags and the environment.
type Config struct {
	Listen string
	// MetricsListen is the address of the Prometheus /metrics, apart from
	// the API (it has no authentication); "" serves none.
	MetricsListen   string
	DataDir         string
	Region          string
	AccountID       string
	AccessKeyID     string
	SecretAccessKey string
	LogLevel        string
	// TLSCert and TLSKey are the PEM files of the API's certificate and
	// key: with them the API is served over HTTPS only.
	TLSCert, TLSKey string
	ShutdownTimeout time.Duration
	// InstanceGracePeriod is how long an instance's agent may be gone before
	// its service tasks are replaced elsewhere.
	InstanceGracePeriod time.Duration
}

// DefaultConfig returns the defaults a new user starts with.
func DefaultConfig() Config {
	dir := ".flotilla"
	if home, err := os.UserHomeDir(); err == nil {
		dir = filepath.Join(home, ".flotilla")
	}
	return Config{
		Listen:              "127.0.0.1:9400",
		MetricsListen:       "127.0.0.1:9401",
		DataDir:             dir,
		Region:              "us-east-1",
		AccountID:           "123456789012",
		LogLevel:            "info",
		ShutdownTimeout:     10 * time.Second,
		InstanceGracePeriod: 30 * time.Second,
	}
}

// RegisterFlags binds the config to a flag set; environment variables give
// the credentials when the flags do not.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Listen, "listen", c.Listen, "address the API listens on")
	fs.StringVar(&c.MetricsListen, "metrics-listen", c.MetricsListen, "address to serve Prometheus metrics on at /metrics, without authentication (\"\": none)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory of the state file and generated credentials")
	fs.StringVar(&c.Region, "region", c.Region, "region named in ARNs and expected in signatures")
	fs.StringVar(&c.AccountID, "account-id", c.AccountID, "12-digit account id named in ARNs")
	fs.StringVar(&c.AccessKeyID, "access-key-id", os.Getenv("FLOTILLA_ACCESS_KEY_ID"), "access key id clients sign with (env FLOTILLA_ACCESS_KEY_ID)")
	fs.StringVar(&c.SecretAccessKey, "secret-access-key", os.Getenv("FLOTILLA_SECRET_ACCESS_KEY"), "secret access key (env FLOTILLA_SECRET_ACCESS_KEY)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "PEM file of the API's certificate (with its chain): the API is served over HTTPS, and agents and lb nodes elsewhere get HTTPS listeners' keys")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "PEM file of the private key of --tls-cert")
	fs.DurationVar(&c.InstanceGracePeriod, "instance-grace-period", c.InstanceGracePeriod, "how long an instance's agent may be gone before its service tasks are replaced elsewhere")
}

// Validate reports the first invalid setting.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("--listen %q: %w", c.Listen, err)
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			return fmt.Errorf("--metrics-listen %q: %w", c.MetricsListen, err)
		}
	}
	if c.DataDir == "" {
		return errors.New("--data-dir must be set")
	}
	if err := (flotilla.Account{Region: c.Region, ID: c.AccountID}).Validate(); err != nil {
		return err
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return errors.New("give both --access-key-id and --secret-access-key, or neither")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("give both --tls-cert and --tls-key, or neither")
	}
	if c.InstanceGracePeriod <= 0 {
		return errors.New("--instance-grace-period must be positive")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	return nil
}

// Credentials is an access key pair clients sign requests with.
type Credentials struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
}

const (
	credentialsFile       = "credentials.json"
	nodeCredentialsFile   = "lb-node-credentials.json"
	nodeAccessKeyIDPrefix = "FLTN"
)

// LoadOrCreateCredentials returns the pair kept in dir, generating and saving
// one on first start. generated says whether it was made now.
func LoadOrCreateCredentials(dir string) (c Credentials, generated bool, err error) {
	return loadOrCreateKey(dir, credentialsFile, "AKIA")
}

// LoadOrCreateNodeCredentials returns the load balancer nodes' key pair
// kept in dir, generating and saving one on first start: it may call the
// node routes only (see apiServer).
func LoadOrCreateNodeCredentials(dir string) (c Credentials, generated bool, err error) {
	return loadOrCreateKey(dir, nodeCredentialsFile, nodeAccessKeyIDPrefix)
}

// loadOrCreateKey returns the pair kept in dir/file, generating one whose
// access key id starts with prefix and saving it on first start.
func loadOrCreateKey(dir, file, prefix string) (c Credentials, generated bool, err error) {
	path := filepath.Join(dir, file)
	b, err := os.ReadFile(path)
	if err == nil {
		if err := json.Unmarshal(b, &c); err != nil || c.AccessKeyID == "" || c.SecretAccessKey == "" {
			return c, false, fmt.Errorf("read %s: malformed credentials file", path)
		}
		return c, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return c, false, fmt.Errorf("read credentials: %w", err)
	}
	c.AccessKeyID, c.SecretAccessKey = flotilla.NewAccessKey(prefix)
	b, _ = json.MarshalIndent(c, "", "  ")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return c, false, fmt.Errorf("write credentials: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return c, false, fmt.Errorf("write credentials: %w", err)
	}
	return c, true, nil
}

// ExportLines are the shell lines that point the aws CLI and SDKs at a
// server; caBundle, when not "", is the PEM file they are to trust its
// certificate by.
func ExportLines(c Credentials, region, endpoint, caBundle string) string {
	s := fmt.Sprintf("export AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\nexport AWS_DEFAULT_REGION=%s\nexport AWS_REGION=%s\n",
		c.AccessKeyID, c.SecretAccessKey, region, region)
	if caBundle != "" {
		s += fmt.Sprintf("export %s=%s\n", cabundle.Env, shellQuote(caBundle))
	}
	return s + "export AWS_ENDPOINT_URL=" + endpoint + "\n"
}

// caBundleFlag binds --ca-bundle, of the clients of a server's API
// (flotilla agent, flotilla lb), to p.
func caBundleFlag(fs *flag.FlagSet, p *string) {
	fs.StringVar(p, "ca-bundle", os.Getenv(cabundle.Env), "PEM file of certificates to trust an https --server by, besides the system's (env "+cabundle.Env+")")
}

// shellQuote quotes v for a POSIX shell when it has characters the shell
// would take apart.
func shellQuote(v string) string {
	if strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:@%+=,-") == "" && v != "" {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}
