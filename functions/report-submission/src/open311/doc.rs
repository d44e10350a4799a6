//! One answer, two formats: an Open311 document is built once as a [`Node`] tree and
//! written as XML or JSON from it (the GeoReport v2 "Spark convention"), so the two never
//! disagree.
//!
//! - XML: `<?xml version="1.0" encoding="utf-8"?>`, the document's root element, a
//!   [`Node::Map`]'s fields as child elements in order, a [`Node::List`]'s items each as an
//!   element of the list's item name (`<services><service>…</service></services>`), text
//!   escaped, [`Node::Null`] as an empty element;
//! - JSON: the root element dropped (a root list is the top-level array), maps as objects,
//!   lists as arrays, `null` for [`Node::Null`].
//!
//! Source: the examples of <http://wiki.open311.org/GeoReport_v2> (each method's XML and
//! JSON response), and of the FixMyStreet `servicerequestupdates` extension.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde_json::{Map, Value};

/// A value of an Open311 answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// Text (XML text content, a JSON string).
    Text(String),
    /// An integer.
    Int(i64),
    /// A number (coordinates).
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// No value: an empty element, JSON `null`.
    Null,
    /// Named fields, in the order the specification lists them.
    Map(Vec<(&'static str, Node)>),
    /// Items, each an element named `item` in XML.
    List { item: &'static str, items: Vec<Node> },
}

impl Node {
    /// Text, or [`Node::Null`] for `None`.
    pub fn opt_text(text: Option<impl Into<String>>) -> Node {
        text.map_or(Node::Null, |t| Node::Text(t.into()))
    }

    /// The JSON of this node.
    pub fn json(&self) -> Value {
        match self {
            Node::Text(t) => Value::String(t.clone()),
            Node::Int(i) => Value::from(*i),
            Node::Float(f) => Value::from(*f),
            Node::Bool(b) => Value::Bool(*b),
            Node::Null => Value::Null,
            Node::Map(fields) => {
                Value::Object(fields.iter().map(|(k, v)| ((*k).to_owned(), v.json())).collect::<Map<_, _>>())
            }
            Node::List { items, .. } => Value::Array(items.iter().map(Node::json).collect()),
        }
    }

    fn write_xml(&self, name: &str, w: &mut Writer<Vec<u8>>) -> std::io::Result<()> {
        let text = match self {
            Node::Text(t) => t.clone(),
            Node::Int(i) => i.to_string(),
            Node::Float(f) => f.to_string(),
            Node::Bool(b) => b.to_string(),
            Node::Null => return w.write_event(Event::Empty(BytesStart::new(name))),
            Node::Map(fields) if fields.is_empty() => return w.write_event(Event::Empty(BytesStart::new(name))),
            Node::List { items, .. } if items.is_empty() => return w.write_event(Event::Empty(BytesStart::new(name))),
            Node::Map(fields) => {
                w.write_event(Event::Start(BytesStart::new(name)))?;
                for (k, v) in fields {
                    v.write_xml(k, w)?;
                }
                return w.write_event(Event::End(BytesEnd::new(name)));
            }
            Node::List { item, items } => {
                w.write_event(Event::Start(BytesStart::new(name)))?;
                for v in items {
                    v.write_xml(item, w)?;
                }
                return w.write_event(Event::End(BytesEnd::new(name)));
            }
        };
        w.write_event(Event::Start(BytesStart::new(name)))?;
        w.write_event(Event::Text(BytesText::new(&text)))?;
        w.write_event(Event::End(BytesEnd::new(name)))
    }

    /// The XML document of this node under the root element `root`, UTF-8, declaration
    /// first.
    pub fn xml(&self, root: &str) -> Vec<u8> {
        let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
        // Writing to a Vec cannot fail; an error here would be a bug in the writer.
        let written = w
            .write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))
            .and_then(|()| self.write_xml(root, &mut w));
        debug_assert!(written.is_ok(), "{written:?}");
        let mut out = w.into_inner();
        out.push(b'\n');
        out
    }
}

/// A list of `item` elements, as [`Node::List`].
pub fn list(item: &'static str, items: Vec<Node>) -> Node {
    Node::List { item, items }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_tree_two_formats() {
        let doc = list(
            "service",
            vec![Node::Map(vec![
                ("service_code", Node::Text("road-damage".into())),
                ("service_name", Node::Text("Hư hỏng <mặt> đường & cầu".into())),
                ("metadata", Node::Bool(true)),
                ("order", Node::Int(2)),
                ("lat", Node::Float(16.0719)),
                ("group", Node::Null),
            ])],
        );
        let xml = String::from_utf8(doc.xml("services")).unwrap();
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<services>\n  <service>\n    \
             <service_code>road-damage</service_code>\n    \
             <service_name>Hư hỏng &lt;mặt&gt; đường &amp; cầu</service_name>\n    \
             <metadata>true</metadata>\n    <order>2</order>\n    <lat>16.0719</lat>\n    <group/>\n  \
             </service>\n</services>\n"
        );
        assert_eq!(
            doc.json().to_string(),
            r#"[{"group":null,"lat":16.0719,"metadata":true,"order":2,"service_code":"road-damage","service_name":"Hư hỏng <mặt> đường & cầu"}]"#
        );
        assert_eq!(String::from_utf8(list("error", vec![]).xml("errors")).unwrap().lines().last(), Some("<errors/>"));
    }
}
