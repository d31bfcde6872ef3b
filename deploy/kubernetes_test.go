package deploy_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/panelcast/panelcast/internal/testenv"
)

const (
	k8sDir      = "kubernetes"
	k8sQueueDir = "kubernetes-queue-autoscaling"
)

// decoder reads the kinds the manifests may hold, strictly: an unknown or
// duplicated field is an error, as it is for `kubectl apply
// --validate=strict` against a cluster.
var decoder = func() runtime.Decoder {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{appsv1.AddToScheme, corev1.AddToScheme, policyv1.AddToScheme, autoscalingv2.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
}()

// decodeAll decodes every document of a YAML stream.
func decodeAll(t *testing.T, where string, data []byte) []runtime.Object {
	t.Helper()
	var objs []runtime.Object
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, _, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		objs = append(objs, obj)
	}
}

func decodeFile(t *testing.T, path string) runtime.Object {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	objs := decodeAll(t, path, b)
	if len(objs) != 1 {
		t.Fatalf("%s: %d objects, want 1", path, len(objs))
	}
	return objs[0]
}

// manifests is what `kubectl apply -k` applies from the base: the files its
// kustomization lists.
func manifests(t *testing.T) []runtime.Object {
	var objs []runtime.Object
	for _, name := range []string{"deployment.yaml", "service.yaml", "pdb.yaml", "hpa.yaml"} {
		objs = append(objs, decodeFile(t, filepath.Join(k8sDir, name)))
	}
	return objs
}

// withQueueHPA is the base with queue-autoscaling's HorizontalPodAutoscaler
// in place of the CPU one.
func withQueueHPA(t *testing.T) []runtime.Object {
	objs := manifests(t)
	objs[3] = decodeFile(t, filepath.Join(k8sQueueDir, "hpa.yaml"))
	return objs
}

// TestKubernetesManifests decodes every manifest strictly with the
// Kubernetes API's own Go types and checks that they make a fleet that
// works: at least two replicas on the shared PostgreSQL outbox with
// settings serve accepts, secrets that the example Secret names, a
// readiness probe on /healthz, a grace period long enough for a clean stop,
// and a Service, PodDisruptionBudget and autoscalers that select and target
// the Deployment.
func TestKubernetesManifests(t *testing.T) {
	secret, ok := decodeFile(t, filepath.Join(k8sDir, "secret.example.yaml")).(*corev1.Secret)
	if !ok {
		t.Fatal("secret.example.yaml is not a Secret")
	}
	rules := adapterRules(t)
	for name, objs := range map[string][]runtime.Object{k8sDir: manifests(t), k8sQueueDir: withQueueHPA(t)} {
		t.Run(name, func(t *testing.T) { checkFleet(t, objs, secret, rules) })
	}
}

func checkFleet(t *testing.T, objs []runtime.Object, secret *corev1.Secret, rules []adapterRule) {
	var dep *appsv1.Deployment
	for _, o := range objs {
		if d, ok := o.(*appsv1.Deployment); ok {
			dep = d
		}
	}
	if dep == nil {
		t.Fatal("no Deployment")
	}
	pods := labels.Set(dep.Spec.Template.Labels)
	if sel, err := metav1.LabelSelectorAsSelector(dep.Spec.Selector); err != nil || !sel.Matches(pods) {
		t.Errorf("the Deployment's selector does not select its pods (%v)", err)
	}
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas < 2 {
		t.Fatal("replicas below 2: run at least two")
	}
	if len(dep.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want panelcast alone", len(dep.Spec.Template.Spec.Containers))
	}
	c := dep.Spec.Template.Spec.Containers[0]
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}

	// The settings serve gets: literal values, and the Secret's.
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			v, ok := secret.StringData[ref.Key]
			if ref.Name != secret.Name || !ok {
				t.Errorf("%s comes from key %q of Secret %q, which secret.example.yaml does not show", e.Name, ref.Key, ref.Name)
			}
			env[e.Name] = v
		default:
			t.Errorf("%s: only values and Secret keys are expected", e.Name)
		}
	}
	if env["PANELCAST_OUTBOX_URL"] == "" || env["PANELCAST_OUTBOX_PATH"] != "" {
		t.Error("the replicas must share the PostgreSQL outbox (PANELCAST_OUTBOX_URL), not each keep a file")
	}
	cfg := checkSettings(t, "the Deployment", env)
	if port := cfg.Addr[strings.LastIndex(cfg.Addr, ":")+1:]; port != "8081" || ports["http"] != 8081 {
		t.Errorf("serve listens on %s, the container port http is %d", cfg.Addr, ports["http"])
	}

	// Readiness on /healthz, which turns 503 as soon as a stop begins.
	for what, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port != intstr.FromString("http") {
			t.Errorf("%s probe %+v, want GET /healthz on port http", what, p)
		}
	}
	var pause time.Duration
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Exec != nil {
		cmd := c.Lifecycle.PreStop.Exec.Command
		d, err := time.ParseDuration(cmd[len(cmd)-1] + "s")
		if len(cmd) != 2 || cmd[0] != "sleep" || err != nil {
			t.Fatalf("preStop %v: expected sleep <seconds>", cmd)
		}
		pause = d
	}
	grace := dep.Spec.Template.Spec.TerminationGracePeriodSeconds
	if grace == nil {
		t.Fatal("no terminationGracePeriodSeconds (Kubernetes' default is 30 s)")
	}
	checkStopTimeout(t, "terminationGracePeriodSeconds", cfg, pause, time.Duration(*grace)*time.Second)

	var service, pdb, hpa int
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Service:
			service++
			if !labels.SelectorFromSet(o.Spec.Selector).Matches(pods) || len(o.Spec.Selector) == 0 {
				t.Errorf("Service %s does not select the pods", o.Name)
			}
			for _, p := range o.Spec.Ports {
				if p.TargetPort.Type != intstr.String || ports[p.TargetPort.StrVal] == 0 {
					t.Errorf("Service port %s targets %s, which the container does not name", p.Name, p.TargetPort.String())
				}
			}
		case *policyv1.PodDisruptionBudget:
			pdb++
			sel, err := metav1.LabelSelectorAsSelector(o.Spec.Selector)
			if err != nil || !sel.Matches(pods) {
				t.Errorf("PodDisruptionBudget %s does not select the pods (%v)", o.Name, err)
			}
			// It must protect a replica and still let a drain evict one.
			switch {
			case o.Spec.MaxUnavailable != nil:
				if v := o.Spec.MaxUnavailable; v.Type != intstr.Int || v.IntVal < 1 || v.IntVal >= *dep.Spec.Replicas {
					t.Errorf("maxUnavailable %s with %d replicas", v.String(), *dep.Spec.Replicas)
				}
			case o.Spec.MinAvailable != nil:
				if v := o.Spec.MinAvailable; v.Type != intstr.Int || v.IntVal < 1 || v.IntVal >= *dep.Spec.Replicas {
					t.Errorf("minAvailable %s with %d replicas", v.String(), *dep.Spec.Replicas)
				}
			default:
				t.Errorf("PodDisruptionBudget %s sets neither minAvailable nor maxUnavailable", o.Name)
			}
		case *autoscalingv2.HorizontalPodAutoscaler:
			hpa++
			checkHPA(t, o, dep, rules)
		case *appsv1.Deployment:
		default:
			t.Errorf("unexpected %T", o)
		}
	}
	if service != 1 || pdb != 1 || hpa != 1 {
		t.Errorf("%d Services, %d PodDisruptionBudgets, %d HorizontalPodAutoscalers; want one each", service, pdb, hpa)
	}
}

func checkHPA(t *testing.T, h *autoscalingv2.HorizontalPodAutoscaler, dep *appsv1.Deployment, rules []adapterRule) {
	t.Helper()
	if ref := h.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != dep.Name || ref.APIVersion != "apps/v1" {
		t.Errorf("HorizontalPodAutoscaler %s scales %+v, not the Deployment", h.Name, ref)
	}
	if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < *dep.Spec.Replicas || h.Spec.MaxReplicas < *h.Spec.MinReplicas {
		t.Errorf("HorizontalPodAutoscaler %s: replicas %v..%d; keep at least the Deployment's %d", h.Name, h.Spec.MinReplicas, h.Spec.MaxReplicas, *dep.Spec.Replicas)
	}
	served := map[string]bool{}
	for _, r := range rules {
		served[r.Name.As] = true
	}
	cpu := false
	for _, m := range h.Spec.Metrics {
		switch m.Type {
		case autoscalingv2.ResourceMetricSourceType:
			cpu = cpu || m.Resource.Name == corev1.ResourceCPU
		case autoscalingv2.ExternalMetricSourceType:
			if !served[m.External.Metric.Name] {
				t.Errorf("external metric %s is not one the adapter rule serves (%v)", m.External.Metric.Name, served)
			}
			// Every replica reports the whole queue, once: the target is
			// shared among the replicas.
			if m.External.Target.Type != autoscalingv2.AverageValueMetricType || m.External.Target.AverageValue == nil {
				t.Errorf("external metric %s: target %+v, want an averageValue", m.External.Metric.Name, m.External.Target)
			}
		default:
			// A Pods metric averages per-pod values, and every pod reports
			// the fleet's queue.
			t.Errorf("metric type %s", m.Type)
		}
	}
	if !cpu {
		t.Errorf("HorizontalPodAutoscaler %s does not scale on CPU", h.Name)
	}
}

// TestKustomize builds both kustomizations with kubectl's kustomize and
// checks that they apply exactly the manifests the other test checked:
// the base's files, and with queue autoscaling the base with its
// HorizontalPodAutoscaler replaced.
func TestKustomize(t *testing.T) {
	// The machine image carries kubectl; Debian's kubernetes-client (1.20)
	// is too old for these files, so .ci/run does not install it.
	kubectl := testenv.NeedCommand(t, "kubectl")
	for dir, want := range map[string][]runtime.Object{k8sDir: manifests(t), k8sQueueDir: withQueueHPA(t)} {
		out, err := exec.Command(kubectl, "kustomize", dir).Output()
		if err != nil {
			var ee *exec.ExitError
			errors.As(err, &ee)
			t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, ee.Stderr)
		}
		got := decodeAll(t, "kubectl kustomize "+dir, out)
		if len(got) != len(want) {
			t.Fatalf("kubectl kustomize %s: %d objects, want %d", dir, len(got), len(want))
		}
		for _, w := range want {
			found := false
			for _, g := range got {
				found = found || reflect.DeepEqual(g, w)
			}
			if !found {
				t.Errorf("kubectl kustomize %s does not apply %T as the file has it", dir, w)
			}
		}
	}
}
