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
	// MasterKeyFile is the file of the key that seals key material at
	// rest (ACM private keys, instance credentials); when empty,
	// DefaultMasterKeyFile(DataDir).
	MasterKeyFile string
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
	fs.StringVar(&c.Region, "region", c.Region, "default region: the one printed for clients and joined by flotilla up's agent (every region a request is signed for is served, each with its own resources)")
	fs.StringVar(&c.AccountID, "account-id", c.AccountID, "12-digit account id named in ARNs")
	fs.StringVar(&c.AccessKeyID, "access-key-id", os.Getenv("FLOTILLA_ACCESS_KEY_ID"), "access key id clients sign with (env FLOTILLA_ACCESS_KEY_ID)")
	fs.StringVar(&c.SecretAccessKey, "secret-access-key", os.Getenv("FLOTILLA_SECRET_ACCESS_KEY"), "secret access key (env FLOTILLA_SECRET_ACCESS_KEY)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	masterKeyFlag(fs, &c.MasterKeyFile)
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
// certificate by. The secret is printed only when showSecret is set (the
// server generated the pair): a secret the user gave is theirs already,
// and is not to be copied into terminals and logs.
func ExportLines(c Credentials, showSecret bool, region, endpoint, caBundle string) string {
	secret := "export AWS_SECRET_ACCESS_KEY=" + c.SecretAccessKey + "\n"
	if !showSecret {
		secret = "# and AWS_SECRET_ACCESS_KEY, the --secret-access-key this server was given\n"
	}
	s := fmt.Sprintf("export AWS_ACCESS_KEY_ID=%s\n%sexport AWS_DEFAULT_REGION=%s\nexport AWS_REGION=%s\n",
		c.AccessKeyID, secret, region, region)
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

// masterKeyFlag binds --master-key-file, of the processes that seal key
// material at rest, to p.
func masterKeyFlag(fs *flag.FlagSet, p *string) {
	fs.StringVar(p, "master-key-file", *p, "file of the key that encrypts key material at rest, created (0600) when missing; keep it and back it up apart from the data dir (default: beside --data-dir, DIR.master.key)")
}

// shellQuote quotes v for a POSIX shell when it has characters the shell
// would take apart.
func shellQuote(v string) string {
	if strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:@%+=,-") == "" && v != "" {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}
