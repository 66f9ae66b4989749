package access

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/raygate/raygate/internal/rbac"
)

// WriteWhoCanText writes r for a terminal.
func WriteWhoCanText(w io.Writer, r *WhoCanResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "who can %s on %s (needs %s", r.Action, r.Cluster, r.RequiredRole)
	if r.RaisedFrom != "" {
		fmt.Fprintf(&b, ", raised from %s by the cluster's actionRoles", r.RaisedFrom)
	}
	if r.OwnJobsOnly {
		b.WriteString("; on their own jobs only: anyone else's job is jobs.stop.any")
	}
	b.WriteString(")\n")
	if r.ClusterSource == "kubernetes-assumed" {
		fmt.Fprintf(&b, "%s is not in the config: as a RayCluster discovery serves, it gets discovery.kubernetes.access\n", r.Cluster)
	}
	b.WriteString("\n")
	if len(r.Holders) == 0 {
		b.WriteString("  nobody, by the config's bindings\n")
	}
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, h := range r.Holders {
		via := "at " + h.Via.String()
		if h.As != "" {
			via = "as " + h.As + "; by " + h.Via.Binding + " at " + h.Via.String()
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", h.Kind, h.Name, h.Role, via)
	}
	_ = tw.Flush()
	if slices.ContainsFunc(r.Holders, func(h Holder) bool { return h.Kind == KindGroup }) {
		b.WriteString("\nEvery member of a group listed holds it; the identity provider decides who the members are.\n")
	}
	switch r.RBAC {
	case "not asked":
		fmt.Fprintf(&b, "\nRoles also come from Kubernetes RBAC (authorization.kubernetes), which was not asked: whoever RBAC allows %s on %s.%s %s holds it too. Give --kubeconfig to list the bindings.\n",
			strings.Join(rbac.Verbs(roleOf(r.RequiredRole)), " or "), rbac.Resource, rbac.Group, r.Cluster)
	case "asked":
		fmt.Fprintf(&b, "\nKubernetes RBAC (%s on %s.%s %s):\n", strings.Join(rbac.Verbs(roleOf(r.RequiredRole)), " or "), rbac.Resource, rbac.Group, r.Cluster)
		if len(r.RBACGrants) == 0 {
			b.WriteString("  no binding grants it\n")
		}
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		for _, g := range r.RBACGrants {
			subjects := make([]string, len(g.Subjects))
			for i, s := range g.Subjects {
				subjects[i] = s.Kind + " " + s.Name
				if s.Kind == "ServiceAccount" {
					subjects[i] = s.Kind + " " + s.Namespace + "/" + s.Name
				}
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", g.Binding, g.Role, strings.Join(g.Verbs, ","), g.RaygateRole, strings.Join(subjects, ", "))
		}
		_ = tw.Flush()
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMatrixText writes m for a terminal: a row per cluster, a column
// per action.
func WriteMatrixText(w io.Writer, m *Matrix) error {
	var b strings.Builder
	b.WriteString(m.Subject.User)
	if len(m.Subject.Groups) > 0 {
		b.WriteString(", groups " + strings.Join(m.Subject.Groups, ", "))
	}
	if m.Subject.ServiceAccount != "" {
		b.WriteString(", service account " + m.Subject.ServiceAccount)
	}
	b.WriteString("\n\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  cluster\trole\t%s\n", strings.Join(m.Actions, "\t"))
	for _, r := range m.Clusters {
		cells := make([]string, len(m.Actions))
		for i, a := range m.Actions {
			cells[i] = "-"
			if slices.Contains(r.Allowed, a) {
				cells[i] = "yes"
				if a == "jobs.stop" {
					cells[i] = "own jobs"
				}
			}
		}
		role := r.Role
		if r.Error != "" {
			role = "error"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", r.Cluster, role, strings.Join(cells, "\t"))
	}
	_ = tw.Flush()
	b.WriteString("\n")
	for _, r := range m.Clusters {
		switch {
		case r.Error != "":
			fmt.Fprintf(&b, "%s: the role could not be resolved (every request would be refused with 503): %s\n", r.Cluster, r.Error)
		case r.Via != nil:
			fmt.Fprintf(&b, "%s: %s from %s at %s\n", r.Cluster, r.Role, r.Via.Binding, r.Via)
		case r.RoleSource != "":
			fmt.Fprintf(&b, "%s: %s from %s\n", r.Cluster, r.Role, r.RoleSource)
		}
	}
	b.WriteString("A cluster with no role answers 404 to every request, as one that does not exist.\n")
	if slices.ContainsFunc(m.Clusters, func(r Row) bool { return r.Cluster == Discovered }) {
		b.WriteString(Discovered + " stands for every RayCluster discovery serves (discovery.kubernetes.access).\n")
	}
	if m.RBAC == "not asked" {
		b.WriteString("Roles also come from Kubernetes RBAC, which was not asked: they may be higher (give --kubeconfig).\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteDiffText writes d for a terminal (and a pull request's log).
func WriteDiffText(w io.Writer, d *DiffResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "effective access from %s to %s\n", d.Old, d.New)
	section := func(title, mark string, cs []Change) {
		if len(cs) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n%s (%d):\n", title, len(cs))
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		for _, c := range cs {
			fmt.Fprintf(tw, "  %s %s\t%s\t%s\t%s via %s at %s\n", mark, c.Subject, c.Cluster, c.Action, c.Role, c.Via.Binding, c.Via)
		}
		_ = tw.Flush()
	}
	section("gained", "+", d.Gained)
	section("lost", "-", d.Lost)
	if len(d.Gained)+len(d.Lost) == 0 {
		b.WriteString("\nno change\n")
	}
	b.WriteString("\nA group stands for every member the identity provider puts in it; a user also holds what its groups hold.\n")
	if d.RBAC {
		b.WriteString("Roles from Kubernetes RBAC are outside both files and not compared.\n")
	}
	fmt.Fprintf(&b, "%d gained, %d lost\n", len(d.Gained), len(d.Lost))
	_, err := io.WriteString(w, b.String())
	return err
}
