package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	ecsapi "github.com/flotilla/flotilla/internal/api/ecs"
	"github.com/flotilla/flotilla/internal/datadir"
	"github.com/flotilla/flotilla/internal/seal"
	"github.com/flotilla/flotilla/internal/store"
	"github.com/flotilla/flotilla/internal/store/bolt"
	"github.com/flotilla/flotilla/internal/testimage"
)

// TestKeyMaterialAtRest runs a server and an agent, imports a certificate
// with its key, and runs a task with a volume that leaves its output in
// the agent's kept logs. Then, both stopped: every file and directory
// under both data dirs is owner-only (the content of the containers'
// volumes aside), and neither the certificate's private key nor the
// instance's secret is in the raw bytes of state.db or agent-state.json,
// although the instance's credentials open with the server's master key.
func TestKeyMaterialAtRest(t *testing.T) {
	root := t.TempDir()
	serverDir, agentDir := filepath.Join(root, "server"), filepath.Join(root, "agent")
	s := startServer(t, serverDir)
	certFile, keyFile := writeCertificate(t, t.TempDir(), "atrest.example")
	var imported struct{ CertificateArn string }
	mustJSON(t, s.aws(t, "acm", "import-certificate", "--certificate", "fileb://"+certFile, "--private-key", "fileb://"+keyFile), &imported)

	c := s.ECS()
	cluster := newCluster(t, c)
	a := startAgent(t, s, cluster, agentDir)
	waitInstances(t, c, cluster, 1)
	out, err := c.RegisterTaskDefinition(bg, &ecs.RegisterTaskDefinitionInput{Family: aws.String("atrest"),
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("main"), Image: aws.String(testimage.Tag), Memory: aws.Int32(64),
			Command:     []string{"exit", "-code", "0", "-after", "1s"},
			MountPoints: []types.MountPoint{{SourceVolume: aws.String("scratch"), ContainerPath: aws.String("/scratch")}}}},
		Volumes: []types.Volume{{Name: aws.String("scratch")}}})
	if err != nil {
		t.Fatal(err)
	}
	td := aws.ToString(out.TaskDefinition.TaskDefinitionArn)
	arn := runTask(t, c, &ecs.RunTaskInput{Cluster: aws.String(cluster), TaskDefinition: aws.String(td)})
	waitTask(t, c, cluster, arn, "STOPPED")
	a.Stop()
	s.Stop()

	logs, _ := filepath.Glob(filepath.Join(agentDir, "logs", "*", "main.log"))
	vols, _ := filepath.Glob(filepath.Join(agentDir, "volumes", "*", "scratch"))
	if len(logs) != 1 || len(vols) != 1 {
		t.Fatalf("kept logs %v, volumes %v: want one of each", logs, vols)
	}
	for _, dir := range []string{serverDir, agentDir} {
		open, err := datadir.Check(dir, "volumes")
		if err != nil || len(open) > 0 {
			t.Errorf("not owner-only under %s: %v, %v", dir, open, err)
		}
	}
	for _, key := range []string{serverDir + ".master.key", agentDir + ".master.key"} {
		if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("master key %s: %v, %v", key, fi, err)
		}
	}

	// The instance's secret, as the server issued it.
	keys, err := seal.Load(serverDir + ".master.key")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := bolt.Open(filepath.Join(serverDir, "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	kvs, _, err := seal.NewStore(raw, keys, ecsapi.InstanceKeyPrefix).List(bg, ecsapi.InstanceKeyPrefix, store.ListOptions{})
	raw.Close()
	if err != nil || len(kvs) != 1 {
		t.Fatalf("instance keys: %d, %v", len(kvs), err)
	}
	var ik struct{ SecretAccessKey string }
	if err := json.Unmarshal(kvs[0].Value, &ik); err != nil || len(ik.SecretAccessKey) < 20 {
		t.Fatalf("instance key %q: %v", kvs[0].Value, err)
	}

	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	var keyLines []string
	for _, l := range strings.Split(string(keyPEM), "\n") {
		if len(l) >= 32 && !strings.HasPrefix(l, "-----") {
			keyLines = append(keyLines, l)
		}
	}
	if len(keyLines) == 0 {
		t.Fatal("no base64 lines in the private key")
	}
	for _, f := range []string{filepath.Join(serverDir, "state.db"), filepath.Join(agentDir, "agent-state.json")} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(ik.SecretAccessKey)) {
			t.Errorf("%s holds the instance secret in plaintext", f)
		}
		for _, l := range keyLines {
			if bytes.Contains(b, []byte(l)) {
				t.Errorf("%s holds the certificate's private key in plaintext", f)
				break
			}
		}
	}
	if b, _ := os.ReadFile(filepath.Join(agentDir, "agent-state.json")); !bytes.Contains(b, []byte(`"sealedCredentials"`)) {
		t.Errorf("agent-state.json has no sealed credentials:\n%s", b)
	}
}
