"""Every operation of botocore's ECR model is either implemented or listed as pending."""

import botocore.session

from dockyard.ecr.operations import IMPLEMENTED, PENDING


def _model_operations() -> set[str]:
    return set(botocore.session.get_session().get_service_model("ecr").operation_names)


def test_every_model_operation_is_accounted_for():
    missing = _model_operations() - set(IMPLEMENTED) - set(PENDING)
    assert not missing, f"ECR operations neither implemented nor listed as pending: {sorted(missing)}"


def test_table_names_only_real_operations_once():
    model = _model_operations()
    assert set(IMPLEMENTED) <= model
    assert not set(IMPLEMENTED) & set(PENDING)
    # pending entries for operations botocore no longer has would hide typos
    assert set(PENDING) <= model, sorted(set(PENDING) - model)
