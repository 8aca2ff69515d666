"""semantics/drf.py and the facts it reads: REST_FRAMEWORK settings (split,
amended, built by a function), the MRO down to DRF's classes, what a
serializer walks, and the index facts added for them."""

from __future__ import annotations

import ast
import textwrap

import libcst as cst
import pytest

from backlint.semantics.context import FileContext
from backlint.semantics.django import QuerySets
from backlint.semantics.drf import (
    API_VIEW,
    GENERIC_API_VIEW,
    LIST_MIXIN,
    drf_classes,
    is_settings_module,
    rest_framework_settings,
    unloaded_relations,
    view_pagination,
    view_permissions,
)
from backlint.semantics.facts import Const, ModuleFacts, Seq, summarise
from backlint.semantics.index import ProjectIndex


def facts(module: str, source: str, path: str = "") -> ModuleFacts:
    tree = ast.parse(textwrap.dedent(source))
    return summarise(tree, module, path or module.replace(".", "/") + ".py", False)


def index(**modules: str) -> ProjectIndex:
    built = ProjectIndex(facts(name.replace("__", "."), src) for name, src in modules.items())
    built.prepare()
    return built


def querysets(built: ProjectIndex) -> QuerySets:
    tree = cst.parse_module("")
    ctx = FileContext(
        path="x.py",
        module="x",
        is_package=False,
        is_test=False,
        source="",
        tree=tree,
        index=built,
    )
    return QuerySets(ctx)


# ---------------------------------------------------------------------------
# Facts.


def test_param_reads_follow_aliases_loops_and_calls() -> None:
    module = facts(
        "app.serializers",
        """
        from rest_framework import serializers

        class OrderSerializer(serializers.ModelSerializer):
            def get_summary(self, obj):
                customer = obj.customer
                names = [line.product.name for line in obj.lines.all()]
                return customer.company.name, obj.tags.count(), self.context, names

        class Helper:
            def get_summary(self, obj):
                return obj.customer.name
        """,
    )
    method = module.classes["OrderSerializer"].method("get_summary")
    assert method is not None
    assert method.param_reads == (
        (0, "context"),
        (1, "customer.company.name"),
        (1, "lines.all.product.name"),
        (1, "tags.count"),
    )
    other = module.classes["Helper"].method("get_summary")
    assert other is not None and other.param_reads == ()  # not computed: not read


def test_item_assignments_and_updates() -> None:
    module = facts(
        "conf.settings",
        """
        REST_FRAMEWORK = {}
        REST_FRAMEWORK["PAGE_SIZE"] = 10
        REST_FRAMEWORK.update({"A": 1}, B=2)
        REST_FRAMEWORK.update(load())
        if True:
            REST_FRAMEWORK[KEY] += 1
        """,
    )
    keys = [(name, key) for name, key, _ in module.item_assignments]
    assert keys[:3] == [
        ("REST_FRAMEWORK", Const("PAGE_SIZE")),
        ("REST_FRAMEWORK", Const("A")),
        ("REST_FRAMEWORK", Const("B")),
    ]
    assert all(not isinstance(key, Const) for _, key in keys[3:])
    assert len(keys) == 5


def test_module_aliases_resolve_short_imports() -> None:
    # `backend/` is a package and the directory holding manage.py: its apps
    # import each other as `shop.models`.
    built = index(
        backend__shop__models="class Order: pass",
        backend__api__models="class Order: pass",
        backend__shop__views="from shop.models import Order",
    )
    assert built.canonical("shop.models.Order") == "backend.shop.models.Order"
    assert built.canonical("backend.shop.views.Order") == "backend.shop.models.Order"
    assert built.find_class("shop.models.Order") is not None
    # `models` alone ends two modules: ambiguous, unresolved.
    assert built.canonical("models.Order") == "models.Order"


# ---------------------------------------------------------------------------
# Settings.


@pytest.mark.parametrize(
    ("module", "path", "expected"),
    [
        ("config.settings.base", "", True),
        ("config.settings.production", "", True),
        ("settings", "", True),
        ("config.settings.dev", "", False),
        ("config.settings.local_docker", "", False),
        ("config.settings_test", "", False),
        ("tests.settings", "", False),
        ("project_name.settings", "x/project_template/project_name/settings.py", False),
        ("slug.settings", "x/{{cookiecutter.slug}}/slug/settings.py", False),
    ],
)
def test_settings_modules(module: str, path: str, expected: bool) -> None:
    assert is_settings_module(module, ["INSTALLED_APPS"], path) is expected


def test_split_settings_count_every_production_module() -> None:
    built = index(
        config__settings__base="""
            INSTALLED_APPS = ["rest_framework"]
            REST_FRAMEWORK = {"DEFAULT_PAGINATION_CLASS": None}
            """,
        config__settings__production="""
            from .base import *
            REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"] = [
                "rest_framework.permissions.IsAuthenticated"
            ]
            """,
        config__settings__dev="""
            from .base import *
            REST_FRAMEWORK["DEFAULT_PAGINATION_CLASS"] = (
                "rest_framework.pagination.PageNumberPagination"
            )
            """,
    )
    settings = built.view(rest_framework_settings)
    assert settings.found
    assert settings.modules == ("config.settings.base", "config.settings.production")
    assert settings.permissions_open(built) is False
    assert settings.pagination_missing() is True  # dev's pagination is not production's
    assert settings.is_set("DEFAULT_THROTTLE_CLASSES") is False


def test_settings_built_by_a_function_and_allow_any() -> None:
    built = index(
        site__drf="""
            def drf_settings():
                return {"DEFAULT_PERMISSION_CLASSES": ("rest_framework.permissions.AllowAny",)}
            """,
        site__settings="""
            from site.drf import drf_settings
            ROOT_URLCONF = "site.urls"
            REST_FRAMEWORK = drf_settings()
            """,
    )
    settings = built.view(rest_framework_settings)
    assert settings.permissions_open(built) is True
    assert settings.classes("DEFAULT_PERMISSION_CLASSES", built) == frozenset(
        {"rest_framework.permissions.AllowAny"}
    )


def test_unreadable_or_missing_settings_say_nothing() -> None:
    opaque = index(conf__settings="INSTALLED_APPS = []\nREST_FRAMEWORK = env.json('DRF')")
    assert opaque.view(rest_framework_settings).permissions_open(opaque) is None
    library = index(polls__views="from rest_framework.views import APIView")
    settings = library.view(rest_framework_settings)
    assert not settings.found
    assert settings.permissions_open(library) is None
    assert settings.pagination_missing() is None


def test_settings_values_for_other_rules() -> None:
    built = index(
        conf__settings="""
            INSTALLED_APPS = []
            REST_FRAMEWORK = dict(
                DEFAULT_THROTTLE_CLASSES=["rest_framework.throttling.AnonRateThrottle"]
            )
            """
    )
    settings = built.view(rest_framework_settings)
    assert settings.is_set("DEFAULT_THROTTLE_CLASSES") is True
    assert settings.values("DEFAULT_THROTTLE_CLASSES") == [
        Seq((Const("rest_framework.throttling.AnonRateThrottle"),))
    ]


# ---------------------------------------------------------------------------
# Classes and views.

VIEWS = """
from rest_framework import generics, mixins, viewsets
from rest_framework.permissions import AllowAny


class ScopedMixin:
    def get_queryset(self):
        return super().get_queryset().filter(active=True)


class Base(ScopedMixin, viewsets.ModelViewSet):
    pass


class Leaf(Base):
    permission_classes = [AllowAny]


class Diamond(mixins.ListModelMixin, generics.GenericAPIView):
    pagination_class = None
"""


def test_mro_reaches_drf_classes() -> None:
    built = index(app__views=VIEWS)
    classes = built.view(drf_classes)
    mro = classes.mro("app.views.Leaf")
    assert mro[:3] == ("app.views.Leaf", "app.views.Base", "app.views.ScopedMixin")
    assert mro.index(LIST_MIXIN) < mro.index(GENERIC_API_VIEW) < mro.index(API_VIEW)
    assert classes.is_leaf("app.views.Leaf") and not classes.is_leaf("app.views.Base")
    assert classes.allows_writes("app.views.Leaf")
    permissions = view_permissions(classes, "app.views.Leaf")
    assert permissions is not None and permissions.state == "allow_any"
    pagination = view_pagination(classes, "app.views.Diamond")
    assert pagination is not None and pagination.state == "none"


def test_serializer_walk_and_unloaded_relations() -> None:
    built = index(
        shop__models="""
            from django.db import models

            class Customer(models.Model):
                name = models.CharField(max_length=10)

            class Order(models.Model):
                customer = models.ForeignKey(Customer, on_delete=models.CASCADE)
                active = models.BooleanField()

            class Line(models.Model):
                order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
                sku = models.ForeignKey("shop.Customer", on_delete=models.CASCADE)
            """,
        shop__serializers="""
            from rest_framework import serializers
            from shop.models import Line, Order

            class LineSerializer(serializers.ModelSerializer):
                sku_name = serializers.CharField(source="sku.name")
                class Meta:
                    model = Line
                    fields = ["sku_name"]

            class OrderSerializer(serializers.ModelSerializer):
                lines = LineSerializer(many=True)
                name = serializers.SerializerMethodField()
                class Meta:
                    model = Order
                    fields = ["lines", "name"]
                def get_name(self, obj):
                    return obj.customer.name
            """,
        shop__views="""
            from rest_framework import viewsets
            from app.views import ScopedMixin
            from shop.models import Order
            from shop.serializers import OrderSerializer

            class OrderViewSet(ScopedMixin, viewsets.ModelViewSet):
                queryset = Order.objects.prefetch_related("lines")
                serializer_class = OrderSerializer
            """,
        app__views=VIEWS,
    )
    classes = built.view(drf_classes)
    model = classes.models.get("shop.models.Order")
    assert model is not None
    walked = classes.walked("shop.serializers.OrderSerializer", model)
    assert walked is not None
    assert {(w.path, w.select, w.under_many) for w in walked} == {
        ("lines", False, False),
        ("lines__sku", False, True),
        ("customer", True, False),
    }
    found = unloaded_relations(classes, "shop.views.OrderViewSet", querysets(built))
    assert found is not None
    assert [w.path for w in found.paths] == ["customer", "lines__sku"]


def test_url_routes_read_routers_and_path_entries() -> None:
    from backlint.semantics.urls import url_routes

    built = index(
        shop__views="""
            from rest_framework import viewsets, routers
            from rest_framework.views import APIView

            class OrderViewSet(viewsets.ModelViewSet):
                pass

            class PingView(APIView):
                pass

            class MyRouter(routers.SimpleRouter):
                pass
        """,
        shop__urls="""
            import django
            from django.urls import include, path, re_path
            from django.views.decorators.csrf import csrf_exempt
            from rest_framework import routers

            from shop.views import MyRouter, OrderViewSet, PingView

            router = routers.DefaultRouter()
            router.register(r"orders", OrderViewSet, basename="order")
            mine = MyRouter()
            mine.register("again", viewset=OrderViewSet)
            registry = Registry()
            registry.register("not-a-router", PingView)

            urlpatterns = [
                path("", include(router.urls)),
                re_path(r"^ping/$", csrf_exempt(PingView.as_view())),
            ]
        """,
    )
    routes = built.view(url_routes)
    assert routes == {"shop.urls": frozenset({"shop.views.OrderViewSet", "shop.views.PingView"})}
    # Only the module-level router's registrations count, not `registry`'s.
    without_patterns = index(
        shop__views="""
            from rest_framework.views import APIView

            class PingView(APIView):
                pass
        """,
        shop__urls="""
            import django
            from shop.views import PingView

            registry = Registry()
            registry.register("not-a-router", PingView)
        """,
    )
    assert without_patterns.view(url_routes) == {}
