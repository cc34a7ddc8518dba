# An ActiveRecord app lite2pg's tests did not grow up with (warehouses: an integer enum, a
# self-reference, has_many :through, a JSON-serialized text column, json, time, datetime(6),
# binaries, decimals of 18 digits): schema, fill, dump (every object as the app reads it)
# and write, on whatever APP_DB names.
require "active_record"; require "json"; require "bigdecimal"
db = ENV.fetch("APP_DB")
if db.start_with?("postgres")
  ActiveRecord::Base.establish_connection(db)
else
  ActiveRecord::Base.establish_connection(adapter: "sqlite3", database: db)
end
ActiveRecord::Base.default_timezone = :utc
class Warehouse < ActiveRecord::Base; has_many :bins; end
class Bin < ActiveRecord::Base
  belongs_to :warehouse; belongs_to :overflow, class_name: "Bin", optional: true
  has_many :stocks; has_many :items, through: :stocks
  enum state: { empty: 0, partial: 1, full: 2 }
  serialize :dims, JSON
end
class Item < ActiveRecord::Base; has_many :stocks; end
class Stock < ActiveRecord::Base; belongs_to :bin; belongs_to :item; end
def schema
  ActiveRecord::Schema.verbose = false
  ActiveRecord::Schema.define(version: 2024_05_01_000000) do
    create_table :warehouses do |t|
      t.string :code, limit: 10, null: false, index: { unique: true }
      t.text :address
      t.float :lat
      t.decimal :area, precision: 8, scale: 1
      t.decimal :value, precision: 18, scale: 6
      t.date :opened_on
      t.boolean :active, default: true, null: false
      t.timestamps
    end
    create_table :bins do |t|
      t.references :warehouse, null: false, foreign_key: true
      t.references :overflow, foreign_key: { to_table: :bins }
      t.integer :state, default: 0, null: false
      t.bigint :capacity
      t.text :dims
      t.json :props
      t.time :checked_at
      t.datetime :last_seen, precision: 6
      t.binary :label
    end
    create_table :items do |t|
      t.string :sku, null: false
      t.decimal :price, precision: 10, scale: 2
    end
    create_table :stocks do |t|
      t.references :bin, null: false, foreign_key: true
      t.references :item, null: false, foreign_key: true
      t.integer :qty, null: false, default: 0
    end
  end
end
def fill
  w = Warehouse.create!(code: "W-1", address: "Straße 1\nÜ", lat: 52.520008, area: BigDecimal("1234567.8"), value: BigDecimal("123456789012.123456"), opened_on: Date.new(1999, 12, 31))
  w2 = Warehouse.create!(code: "gone", active: false)
  b1 = Bin.create!(warehouse: w, state: :full, capacity: 2**40, dims: { "w" => 1.5, "h" => [1, 2] }, props: { "hot" => true, "n" => nil },
                   checked_at: Time.utc(2000, 1, 1, 6, 30, 0, 250_000), last_seen: Time.utc(2024, 2, 29, 23, 59, 59, 999_999), label: "\x00\xFF".b)
  b2 = Bin.create!(warehouse: w, overflow: b1, state: :partial, props: [1, "two"])
  i1 = Item.create!(sku: "A", price: BigDecimal("0.99")); i2 = Item.create!(sku: "B", price: BigDecimal("1000000.10"))
  Stock.create!(bin: b1, item: i1, qty: 5); Stock.create!(bin: b1, item: i2, qty: -1); Stock.create!(bin: b2, item: i1)
  w2.destroy
end
def v(x)
  case x
  when BigDecimal then "dec:#{x.to_s('F')}"
  when Time, ActiveSupport::TimeWithZone then "t:#{x.utc.iso8601(6)}"
  when Date then "d:#{x.iso8601}"
  when String then x.encoding == Encoding::BINARY ? "b:#{x.unpack1('H*')}" : x
  when Float then "f:#{x.inspect}"
  else x
  end
end
def dump
  out = {}
  [Warehouse, Bin, Item, Stock].each { |m| out[m.name] = m.order(:id).map { |o| o.attributes.transform_values { |x| v(x) } } }
  out["through"] = Bin.order(:id).map { |b| b.items.order(:id).map(&:sku) }
  puts JSON.pretty_generate(out)
end
def write
  w = Warehouse.find_by!(code: "W-1")
  b = Bin.create!(warehouse: w, state: :empty, props: { "k" => 1 }, dims: { "x" => 1 })
  raise "id #{b.id}" unless b.id == 3
  raise "enum" unless Bin.full.count == 1
  raise "json" unless Bin.where("props->>'hot' = 'true'").count == 1
  raise "dec" unless Item.find_by!(price: BigDecimal("1000000.10")).sku == "B"
  w3 = Warehouse.create!(code: "W-3"); raise "wid #{w3.id}" unless w3.id == 3
  Stock.where(qty: -1).destroy_all
  puts "writes ok"
end
send(ARGV[0])
