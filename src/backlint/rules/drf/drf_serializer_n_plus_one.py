"""BKL401 drf-serializer-n-plus-one."""

from __future__ import annotations

import libcst as cst

from backlint.rules.drf import DrfClassRule
from backlint.semantics.django import querysets
from backlint.semantics.drf import VIEW_OWN_NAMES, unloaded_relations


class DrfSerializerNPlusOne(DrfClassRule):
    """A view's serializer reads relations its queryset does not load (N+1 queries).

    What it flags:
    A DRF generic view or viewset whose queryset (`queryset = ...`, or what
    `get_queryset()` returns, through `super().get_queryset()` and the
    project's mixins) does not `select_related`/`prefetch_related` a relation
    that its `serializer_class` reads for every object: a nested serializer on
    a relation (`customer = CustomerSerializer()`, `items =
    ItemSerializer(many=True)`, and what *it* reads in turn), a dotted
    `source="customer.name"`, a related field with `many=True`, a
    `SerializerMethodField` whose method reads `obj.<relation>`, `Meta.depth`.
    Serializers inherit fields from their project bases; a subclass's
    `Meta.fields` may leave inherited ones out. For a list view (`ListAPIView`,
    `ModelViewSet`, `ListModelMixin`...) every such relation is one query per
    row; for a view of one object, only relations read once per row of a
    to-many relation (`items__product`) are. Reported on the view's `class`
    line, once, naming every relation to load, on the class that sets the
    queryset or the serializer (not again on subclasses that change neither).

    Why:
    DRF renders each row through the serializer: every relation it reads that
    the queryset did not load is one more query per row. A page of 100 orders
    with their customer and items makes 201 queries instead of 3, and the
    endpoint slows down as the data grows, while every test with three rows
    passes.

    Example:
    ```python
    from django.db import models
    from rest_framework import serializers, viewsets

    class Customer(models.Model):
        name = models.CharField(max_length=100)

    class Order(models.Model):
        customer = models.ForeignKey(Customer, on_delete=models.CASCADE)
        total = models.IntegerField()

    class OrderSerializer(serializers.ModelSerializer):
        customer_name = serializers.CharField(source="customer.name")

        class Meta:
            model = Order
            fields = ["id", "total", "customer_name"]

    class OrderViewSet(viewsets.ReadOnlyModelViewSet):
        queryset = Order.objects.all()
        serializer_class = OrderSerializer
    ```

    Use instead:
    ```python
    from django.db import models
    from rest_framework import serializers, viewsets

    class Customer(models.Model):
        name = models.CharField(max_length=100)

    class Order(models.Model):
        customer = models.ForeignKey(Customer, on_delete=models.CASCADE)
        total = models.IntegerField()

    class OrderSerializer(serializers.ModelSerializer):
        customer_name = serializers.CharField(source="customer.name")

        class Meta:
            model = Order
            fields = ["id", "total", "customer_name"]

    class OrderViewSet(viewsets.ReadOnlyModelViewSet):
        queryset = Order.objects.select_related("customer")
        serializer_class = OrderSerializer
    ```

    Not flagged:
    Relations the queryset loads (a longer path loads its prefixes;
    `Prefetch(...)` objects count, unless `to_attr` moves the rows elsewhere);
    `ModelSerializer` fields that are not declared (relations render as
    primary keys, read from `<fk>_id`, unless `Meta.depth` is set); a
    `PrimaryKeyRelatedField` or `HyperlinkedRelatedField` without `many=True`,
    including the project's subclasses of them that change only the choices
    (`get_queryset()`), not what is read (`to_representation`, `get_url`,
    a `lookup_field` other than `pk`);
    write-only fields; to-many relations a method filters (`obj.items.filter()`:
    no prefetch serves that; BKL304's territory); when several serializers
    are returned by `get_serializer_class()`, relations that not all of them
    read (unless read once per row of a to-many relation). backlint stays
    silent when it cannot see the whole picture: a queryset or serializer it
    cannot resolve, a chain calling something it cannot follow, a view or
    serializer base class outside the project and DRF, the project's own
    `list()` (one whose every return is `super().list(...)`, after work of
    its own such as a counter, is DRF's and is judged),
    `filter_queryset()` or `paginate_queryset()`, a serializer of another
    model than the queryset's. Relations read inside model properties
    or methods the serializer calls are not seen (missed alarms). Test files
    are not checked.

    Fix:
    None: add the relations to the view's queryset, `select_related` for
    ForeignKey/OneToOne paths and `prefetch_related` for the others, as the
    message says.
    """

    code = "BKL401"
    name = "drf-serializer-n-plus-one"
    message = (
        "`{view}` renders {relations} for every row without loading them "
        "(one query per row each): add {cure} to its queryset"
    )
    # A view that sets its queryset or serializer names one of them.
    markers = ("queryset", "serializer_class")
    views_only = True

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        qualname = self.module_class(node)
        if qualname is None:
            return
        classes = self.classes
        cls = classes.facts(qualname)
        if cls is None or not classes.is_view(qualname):
            return
        if not any(cls.attribute(n) is not None or cls.method(n) for n in VIEW_OWN_NAMES):
            return  # the class that sets them reports it
        found = unloaded_relations(classes, qualname, querysets(self.ctx))
        if found is None:
            return
        relations = ", ".join(f"`{w.path}` ({w.via})" for w in found.paths)
        select = [w.path for w in found.paths if w.select]
        prefetch = [w.path for w in found.paths if not w.select]
        cures = []
        if select:
            cures.append("select_related({})".format(", ".join(f'"{p}"' for p in select)))
        if prefetch:
            cures.append("prefetch_related({})".format(", ".join(f'"{p}"' for p in prefetch)))
        cure = " and ".join(f"`{c}`" for c in cures)
        self.report(node, view=node.name.value, relations=relations, cure=cure)
