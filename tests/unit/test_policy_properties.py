"""Property-based checks of policy evaluation: explicit deny wins, an added Allow never removes
access, and a policy whose statements match nothing denies."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.iam.policy import Caller, Request, evaluate

ACCOUNT = "111122223333"
ME = Caller(ACCOUNT, frozenset({f"arn:aws:iam::{ACCOUNT}:user/me", f"arn:aws:iam::{ACCOUNT}:root"}))
ACTIONS = ["ecr:BatchGetImage", "ecr:PutImage", "ecr:ListImages", "ecr:DeleteRepository"]
RESOURCES = [f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/{name}" for name in ("a", "b", "team/c")]

patterns = st.sampled_from(["*", "ecr:*", "ecr:Batch*", "ecr:PutImage", "ecr:List?mages", "s3:*"])
resources = st.sampled_from(["*", RESOURCES[0], "arn:aws:ecr:*:*:repository/team/*",
                             f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/?"])
statements = st.fixed_dictionaries({
    "Effect": st.sampled_from(["Allow", "Deny"]),
    "Action": st.lists(patterns, min_size=1, max_size=3),
    "Resource": st.lists(resources, min_size=1, max_size=2),
})
policies = st.lists(st.fixed_dictionaries({"Statement": st.lists(statements, max_size=4)}),
                    max_size=3)
requests = st.builds(lambda a, r: Request(a, r, ACCOUNT), st.sampled_from(ACTIONS),
                     st.sampled_from(RESOURCES))
principal = {"AWS": f"arn:aws:iam::{ACCOUNT}:user/me"}


@settings(max_examples=300, deadline=None)
@given(policies, policies, requests)
def test_an_explicit_deny_always_wins(identity, resource, request):
    deny_all = {"Statement": [{"Effect": "Deny", "Action": request.action,
                               "Resource": request.resource}]}
    resource = [{"Statement": [dict(s, Principal=principal) for s in p["Statement"]]}
                for p in resource]
    for where in ("identity", "resource"):
        idp = identity + ([deny_all] if where == "identity" else [])
        rp = resource + ([{"Statement": [dict(deny_all["Statement"][0], Principal="*")]}]
                         if where == "resource" else [])
        decision = evaluate(request, ME, identity_policies=idp, resource_policies=rp)
        assert not decision.allowed and decision.explicit_deny


@settings(max_examples=300, deadline=None)
@given(policies, statements, requests)
def test_adding_an_allow_never_removes_access(identity, extra, request):
    before = evaluate(request, ME, identity_policies=identity).allowed
    allow = dict(extra, Effect="Allow")
    after = evaluate(request, ME, identity_policies=identity + [{"Statement": [allow]}]).allowed
    assert after or not before


@settings(max_examples=300, deadline=None)
@given(policies, requests)
def test_statements_that_match_nothing_deny(identity, request):
    unrelated = [{"Statement": [dict(s, Action=["s3:GetObject"]) for s in p["Statement"]]}
                 for p in identity]
    assert not evaluate(request, ME, identity_policies=unrelated).allowed
    assert not evaluate(request, ME).allowed
