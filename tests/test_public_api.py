import polyfleet


def test_public_names_are_pinned():
    assert sorted(polyfleet.__all__) == sorted(
        [
            "Accelerator",
            "Catalog",
            "CatalogError",
            "InfeasibleError",
            "InputError",
            "LoadedScenario",
            "PolyfleetError",
            "Scenario",
            "SolverError",
            "ThroughputMatrix",
            "__version__",
            "build_matrix",
            "load_catalog",
            "load_scenario",
            "parse_scenario",
        ]
    )
    for name in polyfleet.__all__:
        assert hasattr(polyfleet, name)


def test_error_hierarchy():
    assert issubclass(polyfleet.CatalogError, polyfleet.InputError)
    assert issubclass(polyfleet.InputError, polyfleet.PolyfleetError)
    assert issubclass(polyfleet.SolverError, polyfleet.PolyfleetError)
